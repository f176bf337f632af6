import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PlannerEndpoint, PlannerRun } from '@tickwise/db';
import type { RunEvent } from '@tickwise/events';
import { endpointInputSchema, toEndpointSpec } from '@tickwise/machines';
import type { RecentRun } from '../src/analysis/types.ts';
import { dueTrigger, foldRun, markAnalysed, recentRunOf, stateFromEndpoint, type EndpointState } from '../src/endpoint-state.ts';

const OPTIONS = { window: 5, failureStreak: 3 };
const DUE = { minIntervalMs: 30_000, urgentFloorMs: 1_000 };
const SPEC = toEndpointSpec(endpointInputSchema.parse({ name: 'e', url: 'http://127.0.0.1:1/x', schedule: { every: '10s' } }));
const ENDPOINT_ID = '0190a000-0000-7000-8000-00000000e001';
const JOB_ID = '0190a000-0000-7000-8000-00000000a001';

/** The n-th run id: time-ordered like the UUIDv7 run ids, so a later n is a later run. */
function runId(n: number): string {
  return `0190a000-0000-7000-8000-${n.toString(16).padStart(12, '0')}`;
}

function run(n: number, status: RecentRun['status'], extra: Partial<RecentRun> = {}): RecentRun {
  return {
    runId: runId(n),
    status,
    httpStatus: status === 'succeeded' ? 200 : 500,
    durationMs: 10 + n,
    latenessMs: n,
    errorKind: status === 'succeeded' ? null : 'http_status',
    retryAfterMs: null,
    finishedAt: new Date(1_700_000_000_000 + n * 1_000),
    lastAttempt: true,
    ...extra,
  };
}

function endpoint(runs: RecentRun[], archived = false): PlannerEndpoint {
  const recentRuns: PlannerRun[] = runs.map(({ runId: id, ...rest }) => ({ id, ...rest }));
  return { id: ENDPOINT_ID, jobId: JOB_ID, spec: SPEC, archived, recentRuns };
}

const empty = (archived = false) => stateFromEndpoint(endpoint([], archived), OPTIONS);

function foldAll(state: EndpointState, runs: readonly RecentRun[], options = OPTIONS): EndpointState {
  return runs.reduce((current, next) => foldRun(current, next, options), state);
}

describe('recentRunOf', () => {
  it('keeps the fields of a run event the analyses look at', () => {
    const event: RunEvent = {
      schema_version: 1,
      type: 'run.finished',
      event_id: runId(7),
      run_id: runId(7),
      endpoint_id: ENDPOINT_ID,
      job_id: ENDPOINT_ID,
      status: 'failed',
      http_status: 429,
      duration_ms: 12.5,
      scheduled_at: '2024-01-01T00:00:00.000Z',
      started_at: '2024-01-01T00:00:00.040Z',
      finished_at: '2024-01-01T00:00:00.052Z',
      lateness_ms: 40,
      error_kind: 'http_status',
      attempt: 1,
      planned_source: null,
      retry_after_ms: 5_000,
      worker: 'node-1',
    };
    expect(recentRunOf(event)).toEqual({
      runId: runId(7),
      status: 'failed',
      httpStatus: 429,
      durationMs: 12.5,
      latenessMs: 40,
      errorKind: 'http_status',
      retryAfterMs: 5_000,
      finishedAt: new Date('2024-01-01T00:00:00.052Z'),
      lastAttempt: true,
    });
    // An attempt a retry followed says so; an event from before retries ended its slot.
    expect(recentRunOf({ ...event, last_attempt: false }).lastAttempt).toBe(false);
    expect(recentRunOf({ ...event, last_attempt: null }).lastAttempt).toBe(true);
  });
});

describe('foldRun', () => {
  it('appends a run and counts it as unanalysed', () => {
    const state = foldRun(empty(), run(1, 'succeeded'), OPTIONS);
    expect(state.recent).toEqual([run(1, 'succeeded')]);
    expect(state.lastRunId).toBe(runId(1));
    expect(state.unanalysed).toBe(1);
    expect(state.consecutiveSuccesses).toBe(1);
  });

  it('is idempotent: the same run twice, or an older run after a newer one, changes nothing', () => {
    const once = foldAll(empty(), [run(1, 'succeeded'), run(3, 'failed')]);
    expect(foldRun(once, run(3, 'failed'), OPTIONS)).toBe(once);
    expect(foldRun(once, run(2, 'failed'), OPTIONS)).toBe(once);
    expect(foldRun(once, run(1, 'succeeded'), OPTIONS)).toBe(once);
    expect(once.unanalysed).toBe(2);
  });

  it('keeps at most the window, oldest first', () => {
    const state = foldAll(empty(), [1, 2, 3, 4, 5, 6, 7, 8].map((n) => run(n, 'succeeded')));
    expect(state.recent.map((recent) => recent.runId)).toEqual([4, 5, 6, 7, 8].map(runId));
    expect(state.unanalysed).toBe(8);
  });

  it('counts streaks of failures and successes, and resets the other on a change', () => {
    let state = foldAll(empty(), [run(1, 'succeeded'), run(2, 'succeeded')]);
    expect([state.consecutiveSuccesses, state.consecutiveFailures]).toEqual([2, 0]);
    state = foldAll(state, [run(3, 'failed'), run(4, 'failed')]);
    expect([state.consecutiveSuccesses, state.consecutiveFailures]).toEqual([0, 2]);
    state = foldRun(state, run(5, 'succeeded'), OPTIONS);
    expect([state.consecutiveSuccesses, state.consecutiveFailures]).toEqual([1, 0]);
  });

  it('counts a streak within the window, as a rebuild from the database does', () => {
    const runs = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => run(n, 'failed'));
    expect(foldAll(empty(), runs).consecutiveFailures).toBe(5);
  });

  it('is urgent once failures reach the streak threshold, not before', () => {
    const two = foldAll(empty(), [run(1, 'failed'), run(2, 'failed')]);
    expect(two.urgent).toBeNull();
    const three = foldRun(two, run(3, 'failed'), OPTIONS);
    expect(three.urgent).toBe('failure_streak');
    // A streak that goes on after an analysis is urgent again.
    expect(foldRun(markAnalysed(three, 0), run(4, 'failed'), OPTIONS).urgent).toBe('failure_streak');
  });

  it('is urgent on a Retry-After, whatever else was pending', () => {
    const changed = foldAll(empty(), [run(1, 'succeeded'), run(2, 'failed')]);
    expect(changed.urgent).toBe('state_change');
    expect(foldRun(changed, run(3, 'failed', { httpStatus: 429, retryAfterMs: 30_000 }), OPTIONS).urgent).toBe('retry_after');
    // Even on a first run and on a success (a 503 with Retry-After may be classified either way).
    expect(foldRun(empty(), run(1, 'succeeded', { retryAfterMs: 1_000 }), OPTIONS).urgent).toBe('retry_after');
  });

  it('is urgent on a change between success and failure, both ways', () => {
    expect(foldAll(empty(), [run(1, 'succeeded'), run(2, 'failed')]).urgent).toBe('state_change');
    expect(foldAll(empty(), [run(1, 'failed'), run(2, 'succeeded')]).urgent).toBe('state_change');
    expect(foldAll(empty(), [run(1, 'succeeded'), run(2, 'succeeded')]).urgent).toBeNull();
    // The first run ever has nothing to change from.
    expect(foldRun(empty(), run(1, 'failed'), OPTIONS).urgent).toBeNull();
  });

  it('keeps a pending failure streak when the next run recovers', () => {
    const streak = foldAll(empty(), [run(1, 'failed'), run(2, 'failed'), run(3, 'failed')]);
    expect(foldRun(streak, run(4, 'succeeded'), OPTIONS).urgent).toBe('failure_streak');
  });

  it('counts slots, not attempts: a failed attempt that a retry followed moves no streak', () => {
    const retried = (n: number) => run(n, 'failed', { lastAttempt: false });
    // One slot of three attempts, all failed: one failure, not three, so no streak yet.
    const oneSlot = foldAll(empty(), [run(1, 'succeeded'), retried(2), retried(3), run(4, 'failed')]);
    expect([oneSlot.consecutiveFailures, oneSlot.urgent]).toEqual([1, 'state_change']);
    expect(oneSlot.recent).toHaveLength(4);
    // A slot that succeeded on its retry is a success after a success: no change, no streak.
    const recovered = foldAll(empty(), [run(1, 'succeeded'), retried(2), run(3, 'succeeded')]);
    expect([recovered.consecutiveSuccesses, recovered.consecutiveFailures, recovered.urgent]).toEqual([2, 0, null]);
    // A Retry-After on any attempt is still urgent.
    expect(foldRun(empty(), run(1, 'failed', { lastAttempt: false, retryAfterMs: 5_000 }), OPTIONS).urgent).toBe('retry_after');
    // Three failed slots of two attempts each are a streak of three.
    const streak = foldAll(empty(), [retried(1), run(2, 'failed'), retried(3), run(4, 'failed'), retried(5), run(6, 'failed')], { window: 10, failureStreak: 3 });
    expect([streak.consecutiveFailures, streak.urgent]).toEqual([3, 'failure_streak']);
  });

  it('rebuilds the same streaks from the database, attempts a retry followed left out', () => {
    const runs = [run(1, 'succeeded'), run(2, 'failed', { lastAttempt: false }), run(3, 'failed', { lastAttempt: false }), run(4, 'failed')];
    const rebuilt = stateFromEndpoint(endpoint(runs), OPTIONS);
    expect([rebuilt.consecutiveFailures, rebuilt.consecutiveSuccesses]).toEqual([1, 0]);
    expect(rebuilt.consecutiveFailures).toBe(foldAll(empty(), runs).consecutiveFailures);
  });

  it('with a threshold of one, a first failure after a success is a streak', () => {
    expect(foldAll(empty(), [run(1, 'succeeded'), run(2, 'failed')], { window: 5, failureStreak: 1 }).urgent).toBe('failure_streak');
  });
});

describe('dueTrigger', () => {
  it('is null when nothing was folded since the last analysis', () => {
    expect(dueTrigger(empty(), 0, DUE)).toBeNull();
    const analysed = markAnalysed(foldRun(empty(), run(1, 'failed'), OPTIONS), 1_000);
    expect(analysed).toMatchObject({ unanalysed: 0, urgent: null, lastAnalysisAt: 1_000 });
    expect(dueTrigger(analysed, 10_000_000, DUE)).toBeNull();
  });

  it('is due at once for an endpoint never analysed', () => {
    expect(dueTrigger(foldRun(empty(), run(1, 'succeeded'), OPTIONS), 0, DUE)).toBe('periodic');
    expect(dueTrigger(foldAll(empty(), [run(1, 'succeeded'), run(2, 'failed')]), 0, DUE)).toBe('state_change');
  });

  it('waits the minimum interval after an analysis when nothing is urgent', () => {
    const state = foldRun(markAnalysed(foldRun(empty(), run(1, 'succeeded'), OPTIONS), 100_000), run(2, 'succeeded'), OPTIONS);
    expect(dueTrigger(state, 100_000 + DUE.minIntervalMs - 1, DUE)).toBeNull();
    expect(dueTrigger(state, 100_000 + DUE.minIntervalMs, DUE)).toBe('periodic');
  });

  it('waits only the urgent floor when something is urgent', () => {
    const state = foldRun(markAnalysed(foldRun(empty(), run(1, 'succeeded'), OPTIONS), 100_000), run(2, 'failed'), OPTIONS);
    expect(state.urgent).toBe('state_change');
    expect(dueTrigger(state, 100_000 + DUE.urgentFloorMs - 1, DUE)).toBeNull();
    expect(dueTrigger(state, 100_000 + DUE.urgentFloorMs, DUE)).toBe('state_change');
    expect(dueTrigger(state, 100_000 + DUE.minIntervalMs, DUE)).toBe('state_change');
  });

  it('names the urgent reason when the minimum interval is the shorter wait', () => {
    const state = foldRun(markAnalysed(foldRun(empty(), run(1, 'succeeded'), OPTIONS), 0), run(2, 'failed'), OPTIONS);
    const options = { minIntervalMs: 1_000, urgentFloorMs: 5_000 };
    expect(dueTrigger(state, 999, options)).toBeNull();
    expect(dueTrigger(state, 1_000, options)).toBe('state_change');
  });

  it('never analyses an archived endpoint', () => {
    const state = foldAll(empty(true), [run(1, 'succeeded'), run(2, 'failed')]);
    expect(state.urgent).toBe('state_change');
    expect(dueTrigger(state, 10_000_000, DUE)).toBeNull();
  });
});

describe('stateFromEndpoint', () => {
  it('rebuilds from the last window of runs, with nothing left to analyse', () => {
    const runs = [1, 2, 3, 4, 5, 6, 7].map((n) => run(n, n >= 5 ? 'failed' : 'succeeded'));
    const state = stateFromEndpoint(endpoint(runs), OPTIONS);
    expect(state).toEqual({
      id: ENDPOINT_ID,
      jobId: JOB_ID,
      spec: SPEC,
      archived: false,
      recent: runs.slice(-5),
      lastRunId: runId(7),
      consecutiveFailures: 3,
      consecutiveSuccesses: 0,
      unanalysed: 0,
      urgent: null,
      lastAnalysisAt: null,
    });
    // The event of a run the rebuild read is a redelivery.
    expect(foldRun(state, run(7, 'failed'), OPTIONS)).toBe(state);
  });

  it('gives the same runs, streaks and position as folding the same runs one by one', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { maxLength: 30 }), fc.integer({ min: 5, max: 12 }), (outcomes, window) => {
        const options = { window, failureStreak: 3 };
        const runs = outcomes.map((ok, index) => run(index + 1, ok ? 'succeeded' : 'failed'));
        const rebuilt = stateFromEndpoint(endpoint(runs), options);
        const folded = foldAll(stateFromEndpoint(endpoint([]), options), runs, options);
        const comparable = (state: EndpointState) => ({
          recent: state.recent,
          lastRunId: state.lastRunId,
          consecutiveFailures: state.consecutiveFailures,
          consecutiveSuccesses: state.consecutiveSuccesses,
        });
        expect(comparable(rebuilt)).toEqual(comparable(folded));
      }),
    );
  });
});
