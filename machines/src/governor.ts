import { formatDuration } from '@tickwise/platform/duration';
import { describeSchedule, type EndpointSpec } from './endpoint-spec.ts';
import { nextCronTime } from './cron.ts';

export const HINT_KINDS = ['interval', 'run_at', 'pause_until'] as const;
export type HintKind = (typeof HINT_KINDS)[number];

/** A short-lived scheduling hint written by the planner or a person. */
export interface Hint {
  id: string;
  kind: HintKind;
  /** For `interval`. */
  intervalMs?: number;
  /** For `run_at` (the one-shot time) and `pause_until` (the end of the pause). */
  at?: Date;
  reason: string;
  source: string;
  createdAt: Date;
  expiresAt: Date;
}

export interface UserPause {
  reason: string;
  until: Date | null;
}

export interface PlanInput {
  spec: EndpointSpec;
  now: Date;
  /** The slot just run or skipped; null when the endpoint has never run. */
  previousSlot: Date | null;
  /** When the run of `previousSlot` started; null if it was skipped or never ran. */
  previousRunStartedAt?: Date | null;
  /**
   * A slot at most this late is still run (late, at once); only older ones count as missed and
   * follow the catch-up policy. Default 0.
   */
  lateToleranceMs?: number;
  consecutiveFailures: number;
  hints: readonly Hint[];
  userPause?: UserPause | null;
  /** The outcome of the slot just finished, when planning right after a run. */
  justFinished?: 'succeeded' | 'failed' | null;
  /** The breaker paused the endpoint (`pauseAfter`); it stays paused until a person resumes it. */
  tripped?: boolean;
  /** No run before this: what the last answer's Retry-After asked for. */
  notBefore?: Date | null;
  /** Source of randomness for jitter, in [0, 1). Injected so the governor stays pure. */
  random: () => number;
}

export type PlanSource = 'baseline' | 'first_run' | 'backoff' | 'catch_up' | 'hint_interval' | 'hint_run_at';

/** Slots the plan passes over without running them, and why. */
export interface Skipped {
  count: number;
  why: 'catch_up' | 'overlap';
}

export type Plan =
  | { kind: 'run'; at: Date; reason: string; source: PlanSource; skipped?: Skipped }
  | { kind: 'pause'; until: Date | null; reason: string; source: 'user' | 'hint_pause' | 'planning_error' | 'breaker' };

/** Default ceiling for failure backoff when the endpoint sets no maxInterval. */
export const DEFAULT_BACKOFF_CAP_MS = 15 * 60_000;
const MAX_BACKOFF_EXPONENT = 20;

/**
 * The first baseline slot strictly after `after`: never at or before it, whatever the zone, its DST
 * changes or the process's TZ (cron times: ./cron.ts). Pure; executes nothing.
 */
export function nextBaselineSlot(spec: EndpointSpec, after: Date): Date {
  if (spec.schedule.kind === 'every') return new Date(after.getTime() + spec.schedule.everyMs);
  return nextCronTime(spec.schedule.cron, spec.schedule.timezone, after);
}

function clamp(ms: number, spec: EndpointSpec): { ms: number; note: string } {
  if (spec.minIntervalMs !== undefined && ms < spec.minIntervalMs) {
    return { ms: spec.minIntervalMs, note: `; clamped to min interval ${formatDuration(spec.minIntervalMs)}` };
  }
  if (spec.maxIntervalMs !== undefined && ms > spec.maxIntervalMs) {
    return { ms: spec.maxIntervalMs, note: `; clamped to max interval ${formatDuration(spec.maxIntervalMs)}` };
  }
  return { ms, note: '' };
}

function latest(hints: readonly Hint[], kind: HintKind): Hint | undefined {
  let found: Hint | undefined;
  for (const hint of hints) {
    if (hint.kind === kind && (!found || hint.createdAt > found.createdAt)) found = hint;
  }
  return found;
}

/**
 * Decides when an endpoint runs next and why: baseline schedule, failure backoff, hints
 * (interval, one-shot time, pause-until), clamps, catch-up of missed slots and jitter.
 * Pure; executes nothing, reads no clock (`now` and `random` are inputs).
 */
export function planNextRun(input: PlanInput): Plan {
  const { spec, now, previousSlot } = input;
  if (input.userPause && (input.userPause.until === null || input.userPause.until > now)) {
    return { kind: 'pause', until: input.userPause.until, reason: `paused by a person: ${input.userPause.reason}`, source: 'user' };
  }
  const breaker = breakerPause(input);
  if (breaker) return breaker;
  const hints = input.hints.filter((hint) => hint.expiresAt > now);
  const anchor = previousSlot ?? now;

  const pauseHint = latest(hints, 'pause_until');
  if (pauseHint?.at && pauseHint.at > now) {
    const ceiling = spec.maxIntervalMs === undefined ? undefined : new Date(anchor.getTime() + spec.maxIntervalMs);
    if (!ceiling || pauseHint.at <= ceiling) {
      return { kind: 'pause', until: pauseHint.at, reason: `hint (${pauseHint.source}): pause until ${pauseHint.at.toISOString()}: ${pauseHint.reason}`, source: 'hint_pause' };
    }
    if (ceiling > now) {
      return { kind: 'pause', until: ceiling, reason: `hint (${pauseHint.source}): pause until ${pauseHint.at.toISOString()}: ${pauseHint.reason}; clamped to max interval ${formatDuration(spec.maxIntervalMs!)}`, source: 'hint_pause' };
    }
  }

  let plan = baseOrIntervalHint(input, hints, anchor);
  plan = applyRunAtHint(plan, input, hints);
  plan = skipOverlapped(plan, input);
  plan = catchUp(plan, input, anchor);
  plan = withJitter(plan, input, anchor);
  return notBeforeRetryAfter(plan, input);
}

type PausePlan = Extract<Plan, { kind: 'pause' }>;

/** Paused once `pauseAfter` slots in a row failed, and until a person resumes it. */
function breakerPause(input: PlanInput): PausePlan | null {
  const { spec } = input;
  const failures = input.consecutiveFailures;
  if (!input.tripped && !(spec.pauseAfter !== undefined && input.justFinished === 'failed' && failures >= spec.pauseAfter)) return null;
  return { kind: 'pause', until: null, reason: `paused by the breaker after ${failures} consecutive failed slots (pauseAfter ${spec.pauseAfter ?? failures}): resume it once the target is fixed`, source: 'breaker' };
}

type RunPlan = Extract<Plan, { kind: 'run' }>;

function baseOrIntervalHint(input: PlanInput, hints: readonly Hint[], anchor: Date): RunPlan {
  const { spec, now, previousSlot } = input;
  const intervalHint = latest(hints, 'interval');
  if (intervalHint?.intervalMs !== undefined) {
    const { ms, note } = clamp(intervalHint.intervalMs, spec);
    const hinted: RunPlan = {
      kind: 'run',
      at: new Date(anchor.getTime() + ms),
      reason: `hint (${intervalHint.source}): every ${formatDuration(ms)} until ${intervalHint.expiresAt.toISOString()}: ${intervalHint.reason}${note}`,
      source: 'hint_interval',
    };
    // A hint never makes a failing endpoint run sooner than its own backoff would.
    if (input.consecutiveFailures > 0) {
      const backoff = baselineOrBackoff(input, anchor);
      if (backoff.at.getTime() > hinted.at.getTime()) {
        return { ...backoff, reason: `${backoff.reason}; later than the hint (${intervalHint.source}) of every ${formatDuration(ms)}` };
      }
    }
    return hinted;
  }
  if (previousSlot === null && spec.schedule.kind === 'every') {
    return { kind: 'run', at: now, reason: `first run of ${describeSchedule(spec.schedule)}`, source: 'first_run' };
  }
  return baselineOrBackoff(input, anchor);
}

/** The next baseline slot, or later after failures: the gap doubled per failure, capped. */
function baselineOrBackoff(input: PlanInput, anchor: Date): RunPlan {
  const { spec } = input;
  const baseline = nextBaselineSlot(spec, anchor);
  if (input.consecutiveFailures <= 0) {
    return { kind: 'run', at: baseline, reason: `baseline ${describeSchedule(spec.schedule)}`, source: 'baseline' };
  }
  const gap = baseline.getTime() - anchor.getTime();
  const cap = spec.maxIntervalMs ?? Math.max(gap, DEFAULT_BACKOFF_CAP_MS);
  const delay = Math.min(gap * 2 ** Math.min(input.consecutiveFailures, MAX_BACKOFF_EXPONENT), cap);
  if (delay <= gap) {
    return { kind: 'run', at: baseline, reason: `baseline ${describeSchedule(spec.schedule)} (backoff capped at ${formatDuration(cap)})`, source: 'baseline' };
  }
  const earliest = new Date(anchor.getTime() + delay);
  const at = spec.schedule.kind === 'every' ? earliest : nextBaselineSlot(spec, new Date(earliest.getTime() - 1));
  const failures = input.consecutiveFailures === 1 ? '1 consecutive failure' : `${input.consecutiveFailures} consecutive failures`;
  return { kind: 'run', at, reason: `backoff after ${failures}: waiting ${formatDuration(at.getTime() - anchor.getTime())} (cap ${formatDuration(cap)})`, source: 'backoff' };
}

function applyRunAtHint(plan: RunPlan, input: PlanInput, hints: readonly Hint[]): RunPlan {
  const { spec, previousSlot } = input;
  let chosen: Hint | undefined;
  for (const hint of hints) {
    if (hint.kind !== 'run_at' || !hint.at) continue;
    if (previousSlot && hint.at <= previousSlot) continue; // already honoured by the slot just run
    if (!chosen || hint.at < chosen.at!) chosen = hint;
  }
  if (!chosen?.at || chosen.at >= plan.at) return plan;
  let at = chosen.at;
  let note = '';
  if (previousSlot && spec.minIntervalMs !== undefined && at.getTime() < previousSlot.getTime() + spec.minIntervalMs) {
    at = new Date(previousSlot.getTime() + spec.minIntervalMs);
    note = `; clamped to min interval ${formatDuration(spec.minIntervalMs)}`;
  }
  if (at >= plan.at) return plan;
  return { kind: 'run', at, reason: `hint (${chosen.source}): run once at ${chosen.at.toISOString()}: ${chosen.reason}${note}`, source: 'hint_run_at' };
}

/**
 * `overlap: skip`: right after a run, baseline slots that fell due while it was going are skipped,
 * never run late; the next run is the first slot from now.
 */
function skipOverlapped(plan: RunPlan, input: PlanInput): RunPlan {
  const { spec, now } = input;
  if (spec.overlap !== 'skip' || !input.previousRunStartedAt || (plan.source !== 'baseline' && plan.source !== 'backoff') || plan.at >= now) return plan;
  let count = 0;
  let next = plan.at;
  for (; next < now && count <= MISSED_COUNT_LIMIT; next = nextBaselineSlot(spec, next)) count++;
  if (next < now) next = nextBaselineSlot(spec, new Date(now.getTime() - 1));
  const took = formatDuration(now.getTime() - input.previousRunStartedAt.getTime());
  const slots = count > MISSED_COUNT_LIMIT ? `more than ${MISSED_COUNT_LIMIT} slots` : count === 1 ? '1 slot' : `${count} slots`;
  return { kind: 'run', at: next, reason: `overlap skip: ${slots} fell due while the run was going (it took ${took}); baseline ${describeSchedule(spec.schedule)}`, source: 'baseline', skipped: { count, why: 'overlap' } };
}

/** A Retry-After the target asked for holds the next run back until it has passed. */
function notBeforeRetryAfter(plan: RunPlan, input: PlanInput): RunPlan {
  const notBefore = input.notBefore;
  if (!notBefore || notBefore <= plan.at) return plan;
  return { ...plan, at: notBefore, reason: `${plan.reason}; held until ${notBefore.toISOString()} by the target's Retry-After` };
}

function catchUp(plan: RunPlan, input: PlanInput, anchor: Date): RunPlan {
  const { spec, now } = input;
  if (plan.at.getTime() >= now.getTime() - (input.lateToleranceMs ?? 0)) return plan;
  if (plan.source !== 'baseline' && plan.source !== 'backoff') return { ...plan, at: now };
  const slots = describeMissed(spec, plan.at, now);
  if (spec.catchUp === 'once' && hasUncoveredSlot(spec, plan.at, now, input.previousRunStartedAt ?? null)) {
    return { kind: 'run', at: now, reason: `catch-up: running once now for ${slots} since ${plan.at.toISOString()}`, source: 'catch_up' };
  }
  let next: Date;
  if (spec.schedule.kind === 'every') {
    const every = spec.schedule.everyMs;
    const steps = Math.floor((now.getTime() - anchor.getTime()) / every) + 1;
    next = new Date(anchor.getTime() + steps * every);
  } else {
    next = nextBaselineSlot(spec, now);
  }
  return { kind: 'run', at: next, reason: `catch-up: skipped ${slots}; baseline ${describeSchedule(spec.schedule)}`, source: 'catch_up', skipped: { count: missedCount(spec, plan.at, next), why: 'catch_up' } };
}

/**
 * Whether a missed slot fell due after the previous run started. Slots before that were covered by
 * that run: it was the catch-up run.
 */
function hasUncoveredSlot(spec: EndpointSpec, firstMissed: Date, now: Date, previousRunStartedAt: Date | null): boolean {
  if (!previousRunStartedAt || firstMissed > previousRunStartedAt) return true;
  return nextBaselineSlot(spec, previousRunStartedAt) < now;
}

const MISSED_COUNT_LIMIT = 100;

/** How many baseline slots from `firstMissed` fall before `next` (counted up to 101). */
function missedCount(spec: EndpointSpec, firstMissed: Date, next: Date): number {
  if (spec.schedule.kind === 'every') return Math.max(0, Math.ceil((next.getTime() - firstMissed.getTime()) / spec.schedule.everyMs));
  let count = 0;
  for (let slot: Date = firstMissed; slot < next && count <= MISSED_COUNT_LIMIT; slot = nextBaselineSlot(spec, slot)) count++;
  return count;
}

/** "3 missed slots", or "more than 100 missed slots" (counting cron slots one by one costs time). */
function describeMissed(spec: EndpointSpec, firstMissed: Date, now: Date): string {
  let count: number;
  if (spec.schedule.kind === 'every') {
    count = Math.ceil((now.getTime() - firstMissed.getTime()) / spec.schedule.everyMs);
  } else {
    count = 0;
    for (let slot: Date = firstMissed; slot < now && count <= MISSED_COUNT_LIMIT; slot = nextBaselineSlot(spec, slot)) count++;
    if (count > MISSED_COUNT_LIMIT) return `more than ${MISSED_COUNT_LIMIT} missed slots`;
  }
  return count === 1 ? '1 missed slot' : `${count} missed slots`;
}

function withJitter(plan: RunPlan, input: PlanInput, anchor: Date): RunPlan {
  const { spec } = input;
  if (spec.jitter <= 0 || (plan.source !== 'baseline' && plan.source !== 'backoff' && plan.source !== 'catch_up')) return plan;
  const gap = spec.schedule.kind === 'every' ? spec.schedule.everyMs : nextBaselineSlot(spec, plan.at).getTime() - plan.at.getTime();
  let delay = Math.floor(input.random() * spec.jitter * gap);
  // Jitter never stretches a gap past maxInterval.
  if (spec.maxIntervalMs !== undefined) delay = Math.min(delay, anchor.getTime() + spec.maxIntervalMs - plan.at.getTime());
  if (delay <= 0) return plan;
  return { ...plan, at: new Date(plan.at.getTime() + delay), reason: `${plan.reason} + jitter ${formatDuration(delay)}` };
}
