// Words and numbers as the page shows them. Pure functions.

export const STATES = ['idle', 'due', 'running', 'planning', 'paused'] as const;
export type StateName = (typeof STATES)[number];

/** The proto enum's number (MACHINE_STATE_IDLE = 1 ...) as the state's name; 0 is unknown. */
export function stateName(value: number): StateName | 'unknown' {
  return STATES[value - 1] ?? 'unknown';
}

/** 850 ms, 1.2 s, 45 s, 3 min 5 s, 2 h 10 min, 3 d 4 h. */
export function formatMs(ms: number): string {
  const abs = Math.abs(ms);
  if (abs < 1_000) return `${Math.round(ms)} ms`;
  if (abs < 10_000) return `${(ms / 1_000).toFixed(1)} s`;
  if (abs < 60_000) return `${Math.round(ms / 1_000)} s`;
  const parts = (big: number, bigUnit: string, small: number, smallUnit: string) => {
    const whole = Math.floor(abs / big);
    const rest = Math.floor((abs - whole * big) / small);
    return `${ms < 0 ? '-' : ''}${whole} ${bigUnit}${rest > 0 ? ` ${rest} ${smallUnit}` : ''}`;
  };
  if (abs < 3_600_000) return parts(60_000, 'min', 1_000, 's');
  if (abs < 86_400_000) return parts(3_600_000, 'h', 60_000, 'min');
  return parts(86_400_000, 'd', 3_600_000, 'h');
}

/** When something is due, from now: "in 4 s", "now", "2 s late". */
export function countdown(at: Date | null | undefined, now: number): string {
  if (!at) return '—';
  const delta = at.getTime() - now;
  if (Math.abs(delta) < 500) return 'now';
  return delta > 0 ? `in ${formatMs(delta)}` : `${formatMs(-delta)} late`;
}

/** How long ago: "3 s ago", "just now". */
export function ago(at: Date | null | undefined, now: number): string {
  if (!at) return '—';
  const delta = now - at.getTime();
  return delta < 1_000 ? 'just now' : `${formatMs(delta)} ago`;
}

/** A share as a whole percentage, or "—" when there is nothing to count. */
export function percent(part: number, whole: number): string {
  return whole === 0 ? '—' : `${Math.round((100 * part) / whole)}%`;
}

/** "14:03:07" today, else "2024-05-01 14:03:07", in the viewer's time zone. */
export function clock(at: Date | null | undefined, now = Date.now()): string {
  if (!at) return '—';
  const pad = (n: number) => String(n).padStart(2, '0');
  const time = `${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}`;
  const sameDay = new Date(now).toDateString() === at.toDateString();
  return sameDay ? time : `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())} ${time}`;
}

/** Up to `max` characters, with an ellipsis when cut. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
