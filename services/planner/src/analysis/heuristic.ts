import { describeSchedule } from '@tickwise/machines';
import { formatDuration } from '@tickwise/platform';
import {
  asksToWait,
  baselineAfter,
  describeOutcome,
  intervalBounds,
  isPlannerHint,
  liveHints,
  manualHint,
  MAX_TTL_MS,
  plannerHint,
  plural,
  retryAfterUntil,
} from './bounds.ts';
import { HEURISTIC_DEFAULTS, resolveHeuristicSettings, type HeuristicSettings } from './settings.ts';
import type { Analyzer, Decision, EndpointPicture, HintProposal, RecentRun } from './types.ts';

/** A median above this share of the interval means runs take most of the gap between them. */
export const SLOW_SHARE_OF_INTERVAL = 0.5;
/** A median above this share of the timeout means runs are close to being cut off. */
export const SLOW_SHARE_OF_TIMEOUT = 0.8;
/** A backoff or slow-down hint lives ten intervals, at least this long. */
const MIN_BACKOFF_TTL_MS = 10 * 60_000;

/** A rule that applies: what it proposes (maybe nothing) and why. */
interface Outcome {
  proposals: HintProposal[];
  reason: string;
}

/**
 * The heuristic's decision for one endpoint, first rule that applies wins:
 * 1. the latest run was a 429/503 with Retry-After → pause until then, if that is later than the
 *    next baseline run;
 * 2. a failure streak → back off: baseline × 2^streak (the governor's own backoff), capped;
 * 3. consistently slow runs → double the interval until the median fits in half of it, capped;
 * 4. recovered while a planner hint is active → clear the planner's hints;
 * 5. otherwise nothing changes.
 * Never proposes an interval below minInterval or the baseline, never touches a person's hints,
 * every hint it proposes expires. Pure; executes nothing, reads no clock, never throws.
 */
export function heuristicDecision(picture: EndpointPicture, settings: HeuristicSettings = HEURISTIC_DEFAULTS): Decision {
  try {
    const outcome = decide(picture, settings);
    return heuristicResult(outcome.proposals, outcome.reason);
  } catch (error) {
    return heuristicResult([], `no change: the heuristic could not read this endpoint (${(error as Error).message})`);
  }
}

function heuristicResult(proposals: HintProposal[], reasoning: string): Decision {
  return { planner: 'heuristic', proposals, reasoning, toolCalls: [], model: null, tokensIn: null, tokensOut: null, fallback: null };
}

function decide(picture: EndpointPicture, settings: HeuristicSettings): Outcome {
  const baseline = picture.baselineIntervalMs;
  if (!Number.isFinite(baseline) || baseline <= 0) return { proposals: [], reason: `no change: the baseline interval is unknown (${String(baseline)})` };
  const latest = picture.recent.at(-1);
  if (!latest) return { proposals: [], reason: 'no change: no runs yet' };
  const notes: string[] = [];
  const withNotes = (outcome: Outcome): Outcome => ({ ...outcome, reason: [outcome.reason, ...notes].join('; ') });

  if (asksToWait(latest)) {
    const waited = retryAfterRule(picture, latest);
    if ('note' in waited) notes.push(waited.note);
    else return withNotes(waited);
  }
  const streak = streakRule(picture, settings);
  if (streak) return withNotes(streak);
  const slow = slowRule(picture, settings);
  if (slow) return withNotes(slow);
  const recovered = recoveryRule(picture, settings, latest);
  if (recovered) return withNotes(recovered);
  return withNotes({ proposals: [], reason: `no change: ${summary(picture, settings, latest)}` });
}

function retryAfterRule(picture: EndpointPicture, latest: RecentRun & { retryAfterMs: number }): Outcome | { note: string } {
  const { until, capped } = retryAfterUntil(picture, latest);
  const what = `the target answered HTTP ${latest.httpStatus} with Retry-After ${formatDuration(latest.retryAfterMs)}`;
  const next = baselineAfter(picture, latest);
  if (until <= picture.now) return { note: `${what}, which has passed` };
  if (next && until <= next) return { note: `${what}, which ends before the next baseline run at ${next.toISOString()}` };
  const person = manualHint(picture, 'pause_until');
  if (person?.at && person.at >= until) {
    return { proposals: [], reason: `no change: ${what}; a person's pause until ${person.at.toISOString()} already covers it` };
  }
  const own = plannerHint(picture, 'pause_until');
  if (own?.at && own.at >= until) return { proposals: [], reason: `no change: ${what}; already paused until ${own.at.toISOString()}` };
  const reason = `${what}: pausing until ${until.toISOString()}${capped ? ' (capped)' : ''}${next && next > picture.now ? ` instead of running at ${next.toISOString()}` : ''}`;
  return { proposals: [{ kind: 'pause_until', at: until, reason }], reason };
}

function streakRule(picture: EndpointPicture, settings: HeuristicSettings): Outcome | null {
  const streak = picture.consecutiveFailures;
  if (streak < settings.failureStreak) return null;
  const latest = picture.recent.at(-1);
  const what = `${plural(streak, 'consecutive failure')}${latest?.status === 'failed' ? ` (latest: ${describeOutcome(latest)})` : ''}`;
  const baseline = picture.baselineIntervalMs;
  // The governor backs off by itself (the gap doubled per failure); the hint matches that, and outlives the next failure.
  const exponent = Math.min(streak, 20); // the governor's MAX_BACKOFF_EXPONENT
  const { ceilingMs } = intervalBounds(picture);
  const wanted = baseline * 2 ** exponent;
  return slowDown(picture, what, wanted, `baseline ${formatDuration(baseline)} × 2^${exponent}${wanted > ceilingMs ? `, capped at ${formatDuration(ceilingMs)}` : ''}`);
}

function slowRule(picture: EndpointPicture, settings: HeuristicSettings): Outcome | null {
  const samples = picture.recent.slice(-settings.slowWindow);
  if (samples.length < settings.slowSamples) return null;
  const median = medianOf(samples.map((run) => run.durationMs));
  const baseline = picture.baselineIntervalMs;
  const timeout = picture.spec.timeoutMs;
  const byInterval = median > SLOW_SHARE_OF_INTERVAL * baseline;
  if (!byInterval && median <= SLOW_SHARE_OF_TIMEOUT * timeout) return null;
  const what = byInterval
    ? `consistently slow: median duration ${formatDuration(median)} of the last ${samples.length} runs is more than half the baseline ${formatDuration(baseline)}`
    : `consistently slow: median duration ${formatDuration(median)} of the last ${samples.length} runs is above 80% of the timeout ${formatDuration(timeout)}`;
  const { ceilingMs } = intervalBounds(picture);
  // Double until a run fits in half the gap, so the result does not depend on the hint in force
  // and a second analysis of the same runs proposes the same interval.
  let wanted = baseline * 2;
  while (wanted < ceilingMs && median > SLOW_SHARE_OF_INTERVAL * wanted) wanted *= 2;
  return slowDown(picture, what, wanted, `baseline ${formatDuration(baseline)} × ${wanted / baseline}${wanted > ceilingMs ? `, capped at ${formatDuration(ceilingMs)}` : ''}`);
}

/** Proposes a slower interval within bounds, unless a person's or an equal planner hint is in force. */
function slowDown(picture: EndpointPicture, what: string, wantedMs: number, how: string): Outcome {
  const baseline = picture.baselineIntervalMs;
  const { floorMs, ceilingMs } = intervalBounds(picture);
  const intervalMs = Math.max(Math.min(wantedMs, ceilingMs), floorMs);
  if (intervalMs <= baseline) {
    return { proposals: [], reason: `no change: ${what}, but the ceiling ${formatDuration(ceilingMs)} leaves no room above the baseline ${formatDuration(baseline)}` };
  }
  const person = manualHint(picture, 'interval');
  if (person) {
    return { proposals: [], reason: `no change: ${what}, but a person's interval hint (every ${formatDuration(person.intervalMs ?? 0)} until ${person.expiresAt.toISOString()}) is in force: left alone` };
  }
  const ttlMs = backoffTtl(intervalMs);
  const own = plannerHint(picture, 'interval');
  // An equal hint with at least half its life ahead is left as it is rather than rewritten at every analysis.
  if (own?.intervalMs === intervalMs && own.expiresAt.getTime() - picture.now.getTime() >= ttlMs / 2) {
    return { proposals: [], reason: `no change: ${what}; already every ${formatDuration(intervalMs)} until ${own.expiresAt.toISOString()}` };
  }
  const raised = intervalMs > Math.min(wantedMs, ceilingMs) ? `, raised to the floor ${formatDuration(floorMs)}` : '';
  const reason = `${what}: every ${formatDuration(intervalMs)} (${how}${raised}) for ${formatDuration(ttlMs)}`;
  return { proposals: [{ kind: 'interval', intervalMs, ttlMs, reason }], reason };
}

/** Ten intervals, at least 10 min, at most 7 days unless the interval itself needs longer. */
export function backoffTtl(intervalMs: number): number {
  return Math.max(Math.min(Math.max(10 * intervalMs, MIN_BACKOFF_TTL_MS), MAX_TTL_MS), 2 * intervalMs);
}

function recoveryRule(picture: EndpointPicture, settings: HeuristicSettings, latest: RecentRun): Outcome | null {
  if (latest.status !== 'succeeded' || picture.consecutiveSuccesses < settings.recoverySuccesses) return null;
  const live = liveHints(picture);
  const own = live.filter(isPlannerHint);
  if (own.length === 0) return null;
  const kept = live.length - own.length;
  const reason =
    `recovered: the last ${plural(picture.consecutiveSuccesses, 'run')} succeeded: clearing the planner's ` +
    `${own.map((hint) => hint.kind).join(', ')} ${own.length === 1 ? 'hint' : 'hints'}, back to the baseline ${describeSchedule(picture.spec.schedule)}` +
    (kept > 0 ? ` (a person's ${plural(kept, 'hint')} stay${kept === 1 ? 's' : ''})` : '');
  return { proposals: [{ kind: 'clear', reason }], reason };
}

function summary(picture: EndpointPicture, settings: HeuristicSettings, latest: RecentRun): string {
  const parts = [`latest run ${latest.status === 'succeeded' ? 'succeeded' : `failed (${describeOutcome(latest)})`}`];
  if (picture.consecutiveFailures > 0) parts.push(`${plural(picture.consecutiveFailures, 'consecutive failure')}, backoff from ${settings.failureStreak}`);
  const samples = picture.recent.slice(-settings.slowWindow);
  parts.push(`median duration ${formatDuration(medianOf(samples.map((run) => run.durationMs)))} over ${plural(samples.length, 'run')} against the baseline ${formatDuration(picture.baselineIntervalMs)}`);
  return parts.join(', ');
}

function medianOf(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return 0;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The heuristic as an Analyzer: settings validated once, at construction. */
export class HeuristicAnalyzer implements Analyzer {
  readonly name = 'heuristic';
  readonly settings: HeuristicSettings;

  constructor(settings: Partial<HeuristicSettings> = {}) {
    this.settings = resolveHeuristicSettings(settings);
  }

  analyze(picture: EndpointPicture): Promise<Decision> {
    return Promise.resolve(heuristicDecision(picture, this.settings));
  }
}
