import { nextBaselineSlot, type EndpointSpec } from '@tickwise/machines';

/** Per cron and zone: the gap found for `now` in [from, first). */
interface CachedGap {
  from: number;
  first: number;
  gapMs: number;
}

const CACHE_LIMIT = 1_000;
const gaps = new Map<string, CachedGap>();

/**
 * The baseline gap between two runs of an endpoint: the interval, or for cron the gap between the
 * next two cron times after `now` in the schedule's time zone (so a daily job across a DST change
 * gives 23 h or 25 h). Pure: the result depends on its arguments only. A cron time in a zone costs
 * tens of µs (zone offsets through Intl), so the gap is remembered per cron and zone until its first
 * slot (cron times are a fixed set of instants, so the next one, hence the gap, is the same for any
 * `now` before it). Throws only for a cron that never fires again, which spec validation refuses.
 */
export function baselineIntervalMs(spec: EndpointSpec, now: Date): number {
  if (spec.schedule.kind === 'every') return spec.schedule.everyMs;
  const key = `${spec.schedule.timezone}\u0000${spec.schedule.cron}`;
  const at = now.getTime();
  const cached = gaps.get(key);
  if (cached && cached.from <= at && at < cached.first) return cached.gapMs;
  const first = nextBaselineSlot(spec, now);
  const gapMs = nextBaselineSlot(spec, first).getTime() - first.getTime();
  if (gaps.size >= CACHE_LIMIT) gaps.clear();
  gaps.set(key, { from: at, first: first.getTime(), gapMs });
  return gapMs;
}
