import { DEFAULT_BACKOFF_CAP_MS, nextBaselineSlot, type Hint, type HintKind } from '@tickwise/machines';
import type { EndpointPicture, RecentRun } from './types.ts';

/** Shortest life of a hint worth writing. */
export const MIN_TTL_MS = 60_000;
/** Longest life of any hint the planner writes: hints are always finite. */
export const MAX_TTL_MS = 7 * 86_400_000;
/** Longest Retry-After honoured when the endpoint sets no maxInterval (a target cannot park it for a year). */
export const MAX_RETRY_AFTER_MS = 86_400_000;

/** The range the planner may move an endpoint's interval within. */
export interface IntervalBounds {
  /** minInterval, else the baseline: without a minInterval the planner never speeds an endpoint up. */
  floorMs: number;
  /** maxInterval, else the governor's backoff ceiling (15 min, or the baseline if longer). */
  ceilingMs: number;
}

/** Pure. */
export function intervalBounds(picture: EndpointPicture): IntervalBounds {
  const { spec, baselineIntervalMs: baseline } = picture;
  const floorMs = spec.minIntervalMs ?? baseline;
  const ceilingMs = Math.max(spec.maxIntervalMs ?? Math.max(DEFAULT_BACKOFF_CAP_MS, baseline), floorMs);
  return { floorMs, ceilingMs };
}

/** Hints written by the planner carry a source starting with `planner`; the others are a person's. */
export function isPlannerHint(hint: Pick<Hint, 'source'>): boolean {
  return hint.source.startsWith('planner:');
}

/** Hints still alive at the picture's `now`. Pure. */
export function liveHints(picture: EndpointPicture): Hint[] {
  return picture.activeHints.filter((hint) => hint.expiresAt > picture.now);
}

/** The newest live hint of a person of this kind, which the planner leaves alone. Pure. */
export function manualHint(picture: EndpointPicture, kind: HintKind): Hint | undefined {
  return newest(liveHints(picture).filter((hint) => hint.kind === kind && !isPlannerHint(hint)));
}

/** The newest live planner hint of this kind. Pure. */
export function plannerHint(picture: EndpointPicture, kind: HintKind): Hint | undefined {
  return newest(liveHints(picture).filter((hint) => hint.kind === kind && isPlannerHint(hint)));
}

function newest(hints: Hint[]): Hint | undefined {
  return hints.reduce<Hint | undefined>((found, hint) => (!found || hint.createdAt > found.createdAt ? hint : found), undefined);
}

/** Whether a run's answer asks the caller to come back later: 429 or 503 with a Retry-After. */
export function asksToWait(run: RecentRun | undefined): run is RecentRun & { retryAfterMs: number } {
  return run !== undefined && (run.httpStatus === 429 || run.httpStatus === 503) && run.retryAfterMs !== null && run.retryAfterMs > 0;
}

/** When the target asked not to be called before (finishedAt + Retry-After, bounded). Pure. */
export function retryAfterUntil(picture: EndpointPicture, run: RecentRun & { retryAfterMs: number }): { until: Date; capped: boolean } {
  const limit = picture.spec.maxIntervalMs ?? Math.max(MAX_RETRY_AFTER_MS, picture.baselineIntervalMs);
  const wait = Math.min(run.retryAfterMs, limit);
  return { until: new Date(run.finishedAt.getTime() + wait), capped: wait < run.retryAfterMs };
}

/**
 * When the baseline would run next after this run: the slot after the one it ran for (its start
 * minus its lateness). Pure; null for a cron that never fires again.
 */
export function baselineAfter(picture: EndpointPicture, run: RecentRun): Date | null {
  const slot = new Date(run.finishedAt.getTime() - run.durationMs - run.latenessMs);
  try {
    return nextBaselineSlot(picture.spec, slot);
  } catch {
    return null;
  }
}

/** "HTTP 503", "timeout", "failed". */
export function describeOutcome(run: RecentRun): string {
  if (run.httpStatus !== null) return run.errorKind && run.errorKind !== 'http_status' ? `HTTP ${run.httpStatus} (${run.errorKind})` : `HTTP ${run.httpStatus}`;
  return run.errorKind ?? run.status;
}

export function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}
