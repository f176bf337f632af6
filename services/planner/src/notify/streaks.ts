import { errorLine, type NotifyBaseline, type NotifyEndpoint } from '@tickwise/db';
import type { RunEvent } from '@tickwise/events';

/**
 * Failure streaks as notifications count them: consecutive failed SLOTS. A slot's outcome is its
 * last attempt's, so a failed event whose `last_attempt` is false (a retry follows) counts for
 * nothing; one with null or no `last_attempt` (written before retries existed) counts. A streak is
 * identified by its first failed run: "failing" is told once per streak and `after` threshold,
 * "recovered" once per streak that was told, whoever computes it and however often.
 */

export interface Streak {
  /** The first failed run of the streak: its identity. */
  key: string;
  failures: number;
  firstFailureAt: Date;
  lastFailureAt: Date;
  lastError: string | null;
}

/** What the planner keeps per endpoint for notifications. */
export interface NotifyState {
  endpoint: NotifyEndpoint;
  /** When `endpoint` (its job's targets) was read, ms. */
  readAt: number;
  /** The highest run id folded in: an event at or below it was seen already. */
  lastRunId: string | null;
  streak: Streak | null;
  /** Streaks told as failing and not yet as recovered, with the `after`s told: key → thresholds. */
  told: ReadonlyMap<string, ReadonlySet<number>>;
}

/** A notification due, before it is written (`insertNotification` keeps it to once). */
export type DueNotice =
  | { kind: 'failing'; endpointId: string; streak: Streak; threshold: number }
  | { kind: 'recovered'; endpointId: string; streakKey: string; streak: Streak | null; runId: string; at: Date };

/**
 * The state rebuilt from the database, and what it owes: a streak that reached a target's `after`
 * without being told (the planner stopped between the run and the notice), and recoveries of told
 * streaks that have ended. A told streak with no success since is the current one, even when the
 * runs that began it were pruned: its key is kept, so its failure is never told twice.
 * Pure; executes nothing.
 */
export function stateFromBaseline(baseline: NotifyBaseline, now: number): { state: NotifyState; due: DueNotice[] } {
  const { streak: stored, open, ...endpoint } = baseline;
  let streak: Streak | null = null;
  const told = new Map<string, ReadonlySet<number>>(open.map((each) => [each.streakKey, new Set(each.thresholds)]));
  if (stored.failures > 0 && stored.firstRunId !== null) {
    // A told streak with no success after its first run is this streak (its first runs may be pruned).
    const same = open.map((each) => each.streakKey).filter((key) => key <= stored.firstRunId! && (stored.lastSuccessId === null || key > stored.lastSuccessId)).at(-1);
    streak = { key: same ?? stored.firstRunId, failures: stored.failures, firstFailureAt: stored.firstFailureAt!, lastFailureAt: stored.lastFailureAt!, lastError: stored.lastError };
  }
  const due: DueNotice[] = [];
  for (const key of [...told.keys()]) {
    if (key === streak?.key) continue;
    // Ended while nobody was looking: told now, by the latest run known.
    due.push({ kind: 'recovered', endpointId: endpoint.id, streakKey: key, streak: null, runId: stored.lastRunId ?? key, at: new Date(now) });
    told.delete(key);
  }
  const state: NotifyState = { endpoint, readAt: now, lastRunId: stored.lastRunId, streak, told };
  const failing = thresholdsDue(state);
  return { state: failing.state, due: [...due, ...failing.due] };
}

/** "failing" notices for every `after` the streak has reached and not yet told. Pure. */
export function thresholdsDue(state: NotifyState): { state: NotifyState; due: DueNotice[] } {
  const { streak } = state;
  if (!streak) return { state, due: [] };
  const already = state.told.get(streak.key) ?? new Set<number>();
  const reached = [...new Set(state.endpoint.targets.map((target) => target.after))].filter((after) => after <= streak.failures && !already.has(after)).sort((a, b) => a - b);
  if (reached.length === 0) return { state, due: [] };
  const told = new Map(state.told);
  told.set(streak.key, new Set([...already, ...reached]));
  return { state: { ...state, told }, due: reached.map((threshold) => ({ kind: 'failing', endpointId: state.endpoint.id, streak, threshold })) };
}

/**
 * Folds one run event in. A run at or below `lastRunId` was folded already and changes nothing;
 * a failed attempt that a retry follows changes nothing but the position. A failed slot extends
 * (or starts) the streak and may reach thresholds; a success ends it and recovers every told
 * streak. Pure; returns a new state.
 */
export function foldNotify(state: NotifyState, event: RunEvent): { state: NotifyState; due: DueNotice[] } {
  if (state.lastRunId !== null && event.run_id <= state.lastRunId) return { state, due: [] };
  const moved: NotifyState = { ...state, lastRunId: event.run_id };
  if (event.status === 'failed') {
    if (event.last_attempt === false) return { state: moved, due: [] };
    const at = new Date(event.finished_at);
    const lastError = errorLine(event.error_kind, event.http_status);
    const streak: Streak = state.streak
      ? { ...state.streak, failures: state.streak.failures + 1, lastFailureAt: at, lastError }
      : { key: event.run_id, failures: 1, firstFailureAt: at, lastFailureAt: at, lastError };
    return thresholdsDue({ ...moved, streak });
  }
  const due: DueNotice[] = [...state.told.keys()].map((key) => ({
    kind: 'recovered',
    endpointId: state.endpoint.id,
    streakKey: key,
    streak: key === state.streak?.key ? state.streak : null,
    runId: event.run_id,
    at: new Date(event.finished_at),
  }));
  return { state: { ...moved, streak: null, told: new Map() }, due };
}

/** Whether folding `event` may need the job's current targets (a failed slot, or a success ending a told streak). Pure. */
export function needsTargets(state: NotifyState, event: RunEvent): boolean {
  if (state.lastRunId !== null && event.run_id <= state.lastRunId) return false;
  return event.status === 'failed' ? event.last_attempt !== false : state.told.size > 0;
}
