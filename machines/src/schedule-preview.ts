import { isTickwiseError } from '@tickwise/platform/errors';
import { describeSchedule, type EndpointSpec } from './endpoint-spec.ts';
import { cronMatchesWallTime, isFixedTimeCron } from './cron.ts';
import { nextBaselineSlot } from './governor.ts';
import { formatOffset, instantsOfWallTime, zoneOffsetAt } from './zone-time.ts';

export const PREVIEW_COUNT_DEFAULT = 10;
export const PREVIEW_COUNT_MAX = 100;

export interface PreviewRun {
  at: Date;
  /** RFC 3339 in the schedule's zone, with its offset: `2026-03-29T03:00:00+02:00`. */
  localTime: string;
  /** `+02:00`. */
  utcOffset: string;
  /** The offset differs from the previous run's (the first run's: from the offset at `from`). */
  offsetChanged: boolean;
  /** Why DST put this run where it is, in words; empty otherwise. */
  note: string;
}

export interface SchedulePreview {
  schedule: string;
  timezone: string;
  runs: PreviewRun[];
}

/** `2026-03-29T03:00:00+02:00` (milliseconds only when there are some). */
function localTimeText(at: number, offset: number): string {
  const iso = new Date(at + offset).toISOString();
  const text = iso.endsWith('.000Z') ? iso.slice(0, 19) : iso.slice(0, 23);
  return `${text}${formatOffset(offset)}`;
}

const hhmm = (wall: number) => new Date(wall).toISOString().slice(11, 16);

/** What DST did to a cron run, in words: moved out of a gap, or which pass of a repeated time. */
function dstNote(spec: EndpointSpec & { schedule: { kind: 'cron' } }, at: number): string {
  const { cron, timezone } = spec.schedule;
  const offset = zoneOffsetAt(timezone, at);
  const wall = at + offset;
  if (!cronMatchesWallTime(cron, wall)) {
    // Only a fixed-time job runs at a wall time it does not name: the first minute after a gap.
    const before = zoneOffsetAt(timezone, at - 1);
    return `the clocks jumped from ${hhmm(at + before)} to ${hhmm(wall)}: a time the schedule names did not exist, so it runs once, right after the gap`;
  }
  const { instants } = instantsOfWallTime(timezone, wall);
  if (instants.length < 2) return '';
  if (isFixedTimeCron(cron)) return `${hhmm(wall)} occurs twice (the clocks go back): it runs once, at the first pass`;
  return at === instants[0] ? `first pass of ${hhmm(wall)} (the clocks go back later)` : `second pass of ${hhmm(wall)}: the clocks went back`;
}

/**
 * The next `count` baseline runs strictly after `from`, in UTC and in the schedule's zone, marking
 * changes of UTC offset and what DST did to a run. An interval's runs are spaced from `anchor`
 * (the endpoint's last slot) when given, else from `from`. Baseline only: hints, backoff, jitter
 * and catch-up are left out. Fewer runs when the cron has no more. Pure; executes nothing.
 */
export function previewSchedule(spec: EndpointSpec, from: Date, count: number, anchor: Date | null = null): SchedulePreview {
  const timezone = spec.schedule.kind === 'cron' ? spec.schedule.timezone : 'UTC';
  const runs: PreviewRun[] = [];
  let previousOffset = zoneOffsetAt(timezone, from.getTime());
  let after = from;
  if (spec.schedule.kind === 'every' && anchor && anchor < from) {
    // The slot of the anchor's phase at or before `from`, so the first run is the next one after it.
    const every = spec.schedule.everyMs;
    after = new Date(anchor.getTime() + Math.floor((from.getTime() - anchor.getTime()) / every) * every);
  }
  while (runs.length < count) {
    let at: Date;
    try {
      at = nextBaselineSlot(spec, after);
    } catch (error) {
      if (isTickwiseError(error, 'failed_precondition')) break; // the cron has no more runs
      throw error;
    }
    const ms = at.getTime();
    const offset = zoneOffsetAt(timezone, ms);
    const offsetChanged = offset !== previousOffset;
    let note = spec.schedule.kind === 'cron' ? dstNote(spec as EndpointSpec & { schedule: { kind: 'cron' } }, ms) : '';
    if (offsetChanged && note === '') note = `the clocks went ${offset > previousOffset ? 'forward' : 'back'} since the previous run (UTC offset ${formatOffset(previousOffset)} → ${formatOffset(offset)})`;
    runs.push({ at, localTime: localTimeText(ms, offset), utcOffset: formatOffset(offset), offsetChanged, note });
    previousOffset = offset;
    after = at;
  }
  return { schedule: describeSchedule(spec.schedule), timezone, runs };
}

