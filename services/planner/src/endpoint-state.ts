import type { PlannerEndpoint } from '@tickwise/db';
import type { RunEvent } from '@tickwise/events';
import type { EndpointSpec } from '@tickwise/machines';
import type { AnalysisTrigger, RecentRun } from './analysis/types.ts';

/** What the planner keeps per endpoint between events. */
export interface EndpointState {
  id: string;
  jobId: string;
  spec: EndpointSpec;
  archived: boolean;
  /** Oldest first, at most the window. */
  recent: RecentRun[];
  /** The highest run id folded in: an event at or below it was seen already. */
  lastRunId: string | null;
  /** Counted within the window (at most `window`). */
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  /** Runs folded since the last analysis. */
  unanalysed: number;
  /** Set by a run that should be analysed without waiting for the minimum interval. */
  urgent: AnalysisTrigger | null;
  lastAnalysisAt: number | null;
}

export interface FoldOptions {
  /** Runs kept per endpoint. */
  window: number;
  /** Consecutive failures that make a streak. */
  failureStreak: number;
}

export function recentRunOf(event: RunEvent): RecentRun {
  return {
    runId: event.run_id,
    status: event.status,
    httpStatus: event.http_status,
    durationMs: event.duration_ms,
    latenessMs: event.lateness_ms,
    errorKind: event.error_kind,
    retryAfterMs: event.retry_after_ms,
    finishedAt: new Date(event.finished_at),
    // Events written before retries existed have none: each of their runs was its slot's only attempt.
    lastAttempt: event.last_attempt !== false,
  };
}

/** Whether a run ended its slot: a success, or a failure no retry followed. */
const endsSlot = (run: RecentRun) => run.status === 'succeeded' || run.lastAttempt;

/** The streaks of slots at the end of `recent` (attempts a retry followed count for nothing). */
function streaks(recent: readonly RecentRun[]): { failures: number; successes: number } {
  let failures = 0;
  let successes = 0;
  for (let index = recent.length - 1; index >= 0; index--) {
    if (!endsSlot(recent[index]!)) continue;
    const status = recent[index]!.status;
    if (status === 'failed' && successes === 0) failures++;
    else if (status === 'succeeded' && failures === 0) successes++;
    else break;
  }
  return { failures, successes };
}

/** The state of an endpoint rebuilt from the database (first meeting, or after a restart). Pure. */
export function stateFromEndpoint(endpoint: PlannerEndpoint, options: FoldOptions): EndpointState {
  const recent = endpoint.recentRuns.slice(-options.window).map((run) => ({
    runId: run.id,
    status: run.status,
    httpStatus: run.httpStatus,
    durationMs: run.durationMs,
    latenessMs: run.latenessMs,
    errorKind: run.errorKind,
    retryAfterMs: run.retryAfterMs,
    finishedAt: run.finishedAt,
    lastAttempt: run.lastAttempt,
  }));
  const { failures, successes } = streaks(recent);
  return {
    id: endpoint.id,
    jobId: endpoint.jobId,
    spec: endpoint.spec,
    archived: endpoint.archived,
    recent,
    lastRunId: recent.at(-1)?.runId ?? null,
    consecutiveFailures: failures,
    consecutiveSuccesses: successes,
    unanalysed: 0,
    urgent: null,
    lastAnalysisAt: null,
  };
}

/**
 * Folds one run into an endpoint's state. A run at or below `lastRunId` was folded already (a
 * redelivery, or a run the rebuild read from the database) and changes nothing, so folding is
 * idempotent. Streaks count slots: a failed attempt that a retry followed is kept in `recent` but
 * moves no streak. Marks the state urgent on a failure streak, a Retry-After (of any attempt), or a
 * change between success and failure from one slot to the next. Pure; returns a new state.
 */
export function foldRun(state: EndpointState, run: RecentRun, options: FoldOptions): EndpointState {
  if (state.lastRunId !== null && run.runId <= state.lastRunId) return state;
  const previous = state.recent.filter(endsSlot).at(-1);
  const recent = [...state.recent, run].slice(-options.window);
  const base = { ...state, recent, lastRunId: run.runId, unanalysed: state.unanalysed + 1 };
  if (!endsSlot(run)) return { ...base, urgent: run.retryAfterMs !== null ? 'retry_after' : state.urgent };
  const failed = run.status === 'failed';
  // Counted within the window, as a rebuild from the database counts them: a restart then gives
  // the analysis the same streak, hence the same proposal, instead of churning the hint.
  const consecutiveFailures = failed ? Math.min(state.consecutiveFailures + 1, options.window) : 0;
  const consecutiveSuccesses = failed ? 0 : Math.min(state.consecutiveSuccesses + 1, options.window);
  let urgent = state.urgent;
  if (run.retryAfterMs !== null) urgent = 'retry_after';
  else if (failed && consecutiveFailures >= options.failureStreak) urgent = 'failure_streak';
  else if (previous !== undefined && previous.status !== run.status) urgent ??= 'state_change';
  return { ...base, consecutiveFailures, consecutiveSuccesses, urgent };
}

export interface DueOptions {
  /** Analyses of one endpoint are at least this far apart... */
  minIntervalMs: number;
  /** ...unless urgent, and then still at least this far apart. */
  urgentFloorMs: number;
}

/** Why the endpoint should be analysed now, or null. Pure. */
export function dueTrigger(state: EndpointState, now: number, options: DueOptions): AnalysisTrigger | null {
  if (state.archived || state.unanalysed === 0) return null;
  const since = state.lastAnalysisAt === null ? Number.POSITIVE_INFINITY : now - state.lastAnalysisAt;
  if (state.urgent !== null && since >= options.urgentFloorMs) return state.urgent;
  // Names what is pending even when the minimum interval, not the urgent floor, let it through.
  if (since >= options.minIntervalMs) return state.urgent ?? 'periodic';
  return null;
}

/** The state after an analysis at `now`. Pure. */
export function markAnalysed(state: EndpointState, now: number): EndpointState {
  return { ...state, unanalysed: 0, urgent: null, lastAnalysisAt: now };
}
