/**
 * UTC offsets of IANA time zones, read through Intl with the zone named explicitly, so nothing
 * here depends on the process's own TZ. Times are epoch milliseconds; a "wall" time is a zone's
 * local date and time written as if it were UTC (Date.UTC of its fields).
 */

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
/**
 * How far apart two offset changes of one zone at least are. tzdb has none closer in the years
 * cron schedules run in (DST changes are months apart; Morocco's Ramadan breaks, the closest,
 * about a month), so probing at this step finds every change: two changes cannot hide between
 * two probes.
 */
const CHANGE_SPACING_MS = 7 * DAY_MS;

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatterOf(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    if (formatters.size >= 1_000) formatters.clear();
    formatter = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** The zone's UTC offset at an instant, in ms (east positive: +3_600_000 for CET). Pure; executes nothing. */
export function zoneOffsetAt(timeZone: string, epochMs: number): number {
  if (timeZone === 'UTC' || timeZone === 'Etc/UTC') return 0;
  const fields: Record<string, number> = {};
  for (const part of formatterOf(timeZone).formatToParts(epochMs)) {
    if (part.type !== 'literal') fields[part.type] = Number(part.value);
  }
  // setUTCFullYear, not Date.UTC, which reads years 0-99 as 1900-1999.
  const date = new Date(0);
  date.setUTCFullYear(fields.year!, fields.month! - 1, fields.day!);
  const wall = date.setUTCHours(fields.hour!, fields.minute!, fields.second!, 0);
  const wholeSecond = epochMs - (((epochMs % 1_000) + 1_000) % 1_000);
  return wall - wholeSecond;
}

/** The wall time the zone shows at an instant. Pure; executes nothing. */
export function wallTimeAt(timeZone: string, epochMs: number): number {
  return epochMs + zoneOffsetAt(timeZone, epochMs);
}

/**
 * The first instant in (from, to] whose offset differs from the offset at `from`, or null when
 * the offset holds throughout (`offset`: the one at `from`, when the caller has it). Pure; executes
 * nothing.
 */
export function firstOffsetChange(timeZone: string, from: number, to: number, offset = zoneOffsetAt(timeZone, from)): number | null {
  if (to <= from) return null;
  let lo = from;
  let hi = from;
  for (;;) {
    hi = Math.min(lo + CHANGE_SPACING_MS, to);
    if (zoneOffsetAt(timeZone, hi) !== offset) break;
    if (hi >= to) return null;
    lo = hi;
  }
  // lo has the old offset, hi a new one, and at most one change lies between: bisect to the ms.
  while (hi - lo > 1) {
    const mid: number = lo + Math.floor((hi - lo) / 2);
    if (zoneOffsetAt(timeZone, mid) === offset) lo = mid;
    else hi = mid;
  }
  return hi;
}

/**
 * The instants at which the zone shows a wall time: one; two when the clocks fell back over it
 * (first pass first); none when they jumped over it, and then `gapEnd` is the instant the jump
 * happened (the first real instant after the gap). Assumes one offset change at most within a day
 * either side of the wall time, as CHANGE_SPACING_MS does. Pure; executes nothing.
 */
export function instantsOfWallTime(timeZone: string, wall: number): { instants: number[]; gapEnd: number | null } {
  const before = zoneOffsetAt(timeZone, wall - DAY_MS);
  const after = zoneOffsetAt(timeZone, wall + DAY_MS);
  const instants = new Set<number>();
  for (const offset of [before, after]) {
    if (zoneOffsetAt(timeZone, wall - offset) === offset) instants.add(wall - offset);
  }
  if (instants.size > 0) return { instants: [...instants].sort((a, b) => a - b), gapEnd: null };
  // In a gap the clocks moved forward (after > before): the jump lies in (wall - after, wall - before].
  return { instants: [], gapEnd: firstOffsetChange(timeZone, wall - after, wall - before) };
}

/** "+05:30", "-04:00", "+00:00". Pure; executes nothing. */
export function formatOffset(offsetMs: number): string {
  const minutes = Math.round(Math.abs(offsetMs) / MINUTE_MS);
  const sign = offsetMs < 0 ? '-' : '+';
  return `${sign}${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}
