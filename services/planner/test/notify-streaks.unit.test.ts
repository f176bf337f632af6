import { describe, expect, it } from 'vitest';
import type { NotifyBaseline, NotifyEndpoint } from '@tickwise/db';
import type { RunEvent } from '@tickwise/events';
import { foldNotify, needsTargets, stateFromBaseline, type DueNotice, type NotifyState } from '../src/notify/streaks.ts';

const ENDPOINT: NotifyEndpoint = {
  id: '019ab8f0-0000-7000-8000-000000000001',
  name: 'poll',
  jobId: '019ab8f0-0000-7000-8000-000000000002',
  jobName: 'orders',
  tenantId: '019ab8f0-0000-7000-8000-000000000003',
  tenantName: 'acme',
  targets: [
    { channel: 'webhook', url: 'https://a.example.com/', after: 2 },
    { channel: 'slack', url: 'https://b.example.com/', after: 3 },
    { channel: 'webhook', url: 'https://c.example.com/', after: 3 },
  ],
};

/** Run ids in time order: run(1) < run(2) < … */
const run = (n: number) => `019ab8f2-${n.toString(16).padStart(4, '0')}-7000-8000-000000000000`;

function event(n: number, status: 'succeeded' | 'failed', extra: Partial<RunEvent> = {}): RunEvent {
  return {
    schema_version: 1,
    type: 'run.finished',
    event_id: run(n),
    run_id: run(n),
    endpoint_id: ENDPOINT.id,
    job_id: ENDPOINT.jobId,
    status,
    http_status: status === 'failed' ? 503 : 200,
    duration_ms: 5,
    scheduled_at: new Date(n * 1_000).toISOString(),
    started_at: new Date(n * 1_000).toISOString(),
    finished_at: new Date(n * 1_000 + 5).toISOString(),
    lateness_ms: 0,
    error_kind: status === 'failed' ? 'http_status' : null,
    attempt: 1,
    last_attempt: true,
    planned_source: 'baseline',
    retry_after_ms: null,
    worker: 'node-a',
    ...extra,
  } as RunEvent;
}

const fresh = (): NotifyState => ({ endpoint: ENDPOINT, readAt: 0, lastRunId: null, streak: null, told: new Map() });

function foldAll(state: NotifyState, events: RunEvent[]): { state: NotifyState; due: DueNotice[] } {
  const due: DueNotice[] = [];
  for (const each of events) {
    const folded = foldNotify(state, each);
    state = folded.state;
    due.push(...folded.due);
  }
  return { state, due };
}

const summary = (due: DueNotice[]) => due.map((notice) => (notice.kind === 'failing' ? `failing ${notice.streak.key === run(1) ? 'r1' : notice.streak.key} after ${notice.threshold} at ${notice.streak.failures}` : `recovered ${notice.streakKey === run(1) ? 'r1' : notice.streakKey}`));

describe('failure streaks for notifications', () => {
  it('tells each after once when the streak reaches it, and the recovery once at the next success', () => {
    const { due, state } = foldAll(fresh(), [event(1, 'failed'), event(2, 'failed'), event(3, 'failed'), event(4, 'failed'), event(5, 'succeeded'), event(6, 'succeeded')]);
    expect(summary(due)).toEqual(['failing r1 after 2 at 2', 'failing r1 after 3 at 3', 'recovered r1']);
    const recovered = due[2] as Extract<DueNotice, { kind: 'recovered' }>;
    expect(recovered).toMatchObject({ runId: run(5), streak: { failures: 4, lastError: 'http_status 503' } });
    expect(state).toMatchObject({ streak: null, told: new Map() });
  });

  it('counts failed slots: an attempt that a retry follows counts for nothing, an old event without last_attempt counts', () => {
    const { due, state } = foldAll(fresh(), [
      event(1, 'failed', { last_attempt: false, attempt: 1 }),
      event(2, 'failed', { last_attempt: false, attempt: 2 }),
      event(3, 'failed', { last_attempt: true, attempt: 3 }),
      event(4, 'failed', { last_attempt: null }),
    ]);
    expect(state.streak).toMatchObject({ key: run(3), failures: 2 });
    expect(due.map((notice) => notice.kind === 'failing' && notice.threshold)).toEqual([2]);
    // A success on a retry ends the streak too.
    expect(foldNotify(state, event(5, 'succeeded', { attempt: 2 })).due).toEqual([expect.objectContaining({ kind: 'recovered', streakKey: run(3) })]);
  });

  it('ignores a redelivered or older event, and a success with nothing told recovers nothing', () => {
    const once = foldAll(fresh(), [event(1, 'failed'), event(2, 'failed')]);
    expect(foldAll(once.state, [event(1, 'failed'), event(2, 'failed')]).due).toEqual([]);
    expect(foldAll(fresh(), [event(1, 'failed'), event(2, 'succeeded')]).due).toEqual([]);
  });

  it('says when the job’s targets are needed: a failed slot, or a success that ends a told streak', () => {
    const told = foldAll(fresh(), [event(1, 'failed'), event(2, 'failed')]).state;
    expect(needsTargets(fresh(), event(1, 'failed'))).toBe(true);
    expect(needsTargets(fresh(), event(1, 'failed', { last_attempt: false }))).toBe(false);
    expect(needsTargets(fresh(), event(1, 'succeeded'))).toBe(false);
    expect(needsTargets(told, event(3, 'succeeded'))).toBe(true);
    expect(needsTargets(told, event(2, 'failed'))).toBe(false);
  });
});

describe('the state rebuilt from the database', () => {
  const baseline = (streak: Partial<NotifyBaseline['streak']>, open: NotifyBaseline['open'] = []): NotifyBaseline => ({
    ...ENDPOINT,
    streak: { lastRunId: run(9), lastSuccessId: null, failures: 0, firstRunId: null, firstFailureAt: null, lastFailureAt: null, lastError: null, ...streak },
    open,
  });
  const failing = (firstRunId: string, failures: number, lastSuccessId: string | null = null) => ({ failures, firstRunId, lastSuccessId, firstFailureAt: new Date(0), lastFailureAt: new Date(1), lastError: 'timeout' });

  it('tells what a streak reached while no planner ran, and only what was not told', () => {
    expect(summary(stateFromBaseline(baseline(failing(run(1), 3)), 0).due)).toEqual(['failing r1 after 2 at 3', 'failing r1 after 3 at 3']);
    expect(summary(stateFromBaseline(baseline(failing(run(1), 3), [{ streakKey: run(1), thresholds: [2] }]), 0).due)).toEqual(['failing r1 after 3 at 3']);
    expect(stateFromBaseline(baseline(failing(run(1), 3), [{ streakKey: run(1), thresholds: [2, 3] }]), 0).due).toEqual([]);
  });

  it('keeps a told streak whose first runs were pruned as the same streak, never telling it again', () => {
    const { state, due } = stateFromBaseline(baseline(failing(run(5), 3, run(0)), [{ streakKey: run(1), thresholds: [2, 3] }]), 0);
    expect(due).toEqual([]);
    expect(state.streak?.key).toBe(run(1));
  });

  it('recovers a told streak that ended while no planner ran, even when a new one began since', () => {
    expect(summary(stateFromBaseline(baseline({ lastSuccessId: run(8) }, [{ streakKey: run(1), thresholds: [2] }]), 0).due)).toEqual(['recovered r1']);
    const { due, state } = stateFromBaseline(baseline(failing(run(6), 2, run(5)), [{ streakKey: run(1), thresholds: [2] }]), 0);
    expect(summary(due)).toEqual(['recovered r1', `failing ${run(6)} after 2 at 2`]);
    expect(state.streak?.key).toBe(run(6));
  });
});
