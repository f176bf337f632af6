// Text output of the API commands: aligned tables, relative times, durations. Pure functions.

/**
 * Columns padded to their widest cell, two spaces apart, header first; the last column is not padded
 * (no trailing blanks). Cells are shown as given, with line breaks and tabs turned into spaces so a
 * row stays one line. Pure.
 */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const clean = (cell: string | undefined) => (cell ?? '').replace(/[\r\n\t]+/g, ' ');
  const all = [headers.map(clean), ...rows.map((row) => headers.map((_header, index) => clean(row[index])))];
  const widths = headers.map((_header, index) => Math.max(...all.map((row) => [...row[index]!].length)));
  return all
    .map((row) =>
      row
        .map((cell, index) => (index === row.length - 1 ? cell : cell + ' '.repeat(widths[index]! - [...cell].length)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** "label: value" lines with the values aligned, for one object. Pure. */
export function renderFields(fields: readonly (readonly [string, string])[]): string {
  const width = Math.max(0, ...fields.map(([label]) => label.length));
  return fields.map(([label, value]) => `${`${label}:`.padEnd(width + 1)}  ${value}`.trimEnd()).join('\n');
}

const UNITS = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
] as const;

/** A whole number of the largest unit that fits ("3m", "2h", "12s"); under a second, "0s". Pure. */
function coarse(ms: number): string {
  for (const [unit, size] of UNITS) if (ms >= size) return `${Math.floor(ms / size)}${unit}`;
  return '0s';
}

/**
 * `at` seen from `now`: "in 12s", "3m ago", "now" (within a second); "-" when there is no time.
 * Coarse on purpose (one unit, rounded down), for people scanning a table. Pure.
 */
export function relativeTime(at: Date | undefined, now: Date): string {
  if (!at) return '-';
  const delta = at.getTime() - now.getTime();
  if (Math.abs(delta) < 1_000) return 'now';
  return delta > 0 ? `in ${coarse(delta)}` : `${coarse(-delta)} ago`;
}

/**
 * A duration for people: "850ms", "1.25s", "12.5s", "2m05s", "1h02m", "3d04h". Two significant
 * parts at most; under a minute with up to two decimals. Negative or non-finite values give "-". Pure.
 */
export function humanDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) {
    const seconds = ms / 1_000;
    return `${Number(seconds.toFixed(seconds < 10 ? 2 : 1))}s`;
  }
  const total = Math.floor(ms / 1_000);
  const pad = (n: number) => String(n).padStart(2, '0');
  if (total < 3_600) return `${Math.floor(total / 60)}m${pad(total % 60)}s`;
  if (total < 86_400) return `${Math.floor(total / 3_600)}h${pad(Math.floor((total % 3_600) / 60))}m`;
  return `${Math.floor(total / 86_400)}d${pad(Math.floor((total % 86_400) / 3_600))}h`;
}

/** At most `max` characters, "…" marking a cut. Pure. */
export function truncate(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, Math.max(0, max - 1)).join('')}…`;
}

/** An instant as RFC 3339 in UTC to the second, with its relative form: "2026-11-24T09:05:00Z (in 12s)". Pure. */
export function timeWithRelative(at: Date | undefined, now: Date): string {
  if (!at) return '-';
  return `${at.toISOString().replace(/\.\d{3}Z$/, 'Z')} (${relativeTime(at, now)})`;
}
