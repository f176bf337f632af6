/** The longest Retry-After taken at its word (a larger one is capped): one day. */
const MAX_RETRY_AFTER_MS = 86_400_000;

/**
 * Retry-After as delay-seconds or an HTTP date, in ms from `now`, capped at a day; null when absent
 * or unreadable. Read the same way for a scheduled call and a notification's delivery. Pure.
 */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | null {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!text) return null;
  if (/^\d+$/.test(text)) return Math.min(Number(text) * 1_000, MAX_RETRY_AFTER_MS);
  const at = Date.parse(text);
  if (Number.isNaN(at) || !/[a-z]/i.test(text)) return null;
  return Math.min(Math.max(0, at - now), MAX_RETRY_AFTER_MS);
}
