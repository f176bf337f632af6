/** routine-cycle.ts: which writes go without a history row, and that their steps come back the same. */
import { describe, expect, it } from 'vitest';
import { finishReason, routineClaimedAt, routineSteps, type MachineWrite, type RunRecord, type TransitionRow } from '@tickwise/db';
import { planWrite } from '@tickwise/catalog';
import { createEndpointSnapshot, step, type EndpointSpec, type EndpointSnapshot } from '@tickwise/machines';

const T0 = new Date('2026-01-05T10:00:00.000Z');
const at = (offsetMs: number) => new Date(T0.getTime() + offsetMs);
const spec: EndpointSpec = { url: 'http://localhost:9999/x', method: 'GET', headers: {}, schedule: { kind: 'every', everyMs: 30_000 }, jitter: 0, timeoutMs: 10_000, catchUp: 'skip', pauseAfter: 2 };

function idleMachine(): EndpointSnapshot {
  const created = createEndpointSnapshot(T0).snapshot;
  return step(created, { type: 'PLANNED', at: at(30_000).toISOString(), reason: 'baseline every 30s', source: 'baseline' }, T0).snapshot;
}

function runOf(status: 'succeeded' | 'failed', overrides: Partial<RunRecord> = {}): RunRecord {
  return {
    id: '0194c2a0-0000-7000-8000-000000000001',
    endpointId: 'e1',
    jobId: 'j1',
    slot: at(30_000),
    attempt: 1,
    lastAttempt: true,
    worker: 'node-a',
    status,
    httpStatus: status === 'succeeded' ? 200 : 503,
    durationMs: 12,
    startedAt: at(30_001),
    finishedAt: at(30_013),
    errorKind: status === 'succeeded' ? null : 'http_status',
    errorMessage: status === 'succeeded' ? null : 'HTTP 503',
    responseBody: null,
    responseTruncated: false,
    plannedSource: 'baseline',
    retryAfterMs: null,
    ...overrides,
  };
}

/** The write a node makes for one call, stepping the machine as the node does (admission, run, plan). */
function cycle(run: RunRecord, snapshot = idleMachine(), now = run.finishedAt): MachineWrite {
  const claimed = step(snapshot, { type: 'CLAIM', slot: run.slot.toISOString() }, at(29_800));
  const dispatched = step(claimed.snapshot, { type: 'DISPATCH', attempt: 1 }, run.startedAt);
  const finished = step(dispatched.snapshot, { type: 'FINISH', outcome: run.status, notBefore: null }, run.finishedAt);
  const transitions: TransitionRow[] = [claimed.record, dispatched.record, { ...finished.record, runId: run.id, reason: finishReason(run) }];
  return planWrite(finished.snapshot, null, { id: run.endpointId, version: 3, spec, hints: [], userPause: null, now, random: () => 0, justFinished: run.status }, transitions);
}

describe('routine cycles', () => {
  it('stores a claim, one call and a plan back to idle with the run, and rebuilds exactly the steps the machine recorded', () => {
    for (const run of [runOf('succeeded'), runOf('failed'), runOf('failed', { errorKind: 'timeout', errorMessage: null, httpStatus: null })]) {
      const write = cycle(run);
      expect(write.transitions.map((s) => s.event)).toEqual(['CLAIM', 'DISPATCH', 'FINISH', 'PLANNED']);
      const claimedAt = routineClaimedAt(run, write);
      expect(claimedAt).toEqual(at(29_800));
      const rebuilt = routineSteps({ runId: run.id, claimedAt: claimedAt!, startedAt: run.startedAt, finishedAt: run.finishedAt, finishReason: finishReason(run), planReason: write.reason, nextRunAt: write.nextRunAt });
      expect(rebuilt).toStrictEqual(write.transitions);
    }
  });

  it('keeps as a history row every write that is not routine', () => {
    const run = runOf('succeeded');
    const routine = cycle(run);
    // Another run's write, or a run of another endpoint.
    expect(routineClaimedAt(runOf('succeeded', { id: '0194c2a0-0000-7000-8000-000000000002' }), routine)).toBeNull();
    expect(routineClaimedAt(runOf('succeeded', { endpointId: 'e2' }), routine)).toBeNull();
    // A step with something more (a skipped slot), or a different plan than the write says.
    const skipped = { ...routine, transitions: routine.transitions.map((s, i) => (i === 3 ? { ...s, skipped: { count: 2, why: 'catch_up' } } : s)) };
    expect(routineClaimedAt(run, skipped)).toBeNull();
    expect(routineClaimedAt(run, { ...routine, reason: 'something else' })).toBeNull();
    // A retry within the slot: five steps.
    expect(routineClaimedAt(run, { ...routine, transitions: [...routine.transitions, routine.transitions[3]!] })).toBeNull();
    // A claim that is not from idle (a resumed pause) and a cycle that ends paused (the breaker).
    expect(routineClaimedAt(run, { ...routine, transitions: [{ ...routine.transitions[0]!, from: 'paused' }, ...routine.transitions.slice(1)] })).toBeNull();
    const failing = idleMachine();
    const tripped = cycle(runOf('failed'), { ...failing, context: { ...failing.context, consecutiveFailures: 1 } });
    expect(tripped.state).toBe('paused');
    expect(routineClaimedAt(runOf('failed'), tripped)).toBeNull();
    // A step written otherwise than the rebuilt one would be: a time in another form, a field more.
    const claimAt = (text: string) => ({ ...routine, transitions: [{ ...routine.transitions[0]!, at: text }, ...routine.transitions.slice(1)] });
    expect(routineClaimedAt(run, claimAt('2026-01-05T09:59:59.800+00:00'))).toBeNull();
    expect(routineClaimedAt(run, claimAt('not a time'))).toBeNull();
    expect(routineClaimedAt(run, { ...routine, transitions: [{ ...routine.transitions[0]!, reason: 'x' }, ...routine.transitions.slice(1)] })).toBeNull();
    // The call's answer the FINISH step tells differs from the run recorded.
    expect(routineClaimedAt(runOf('succeeded', { httpStatus: 204 }), routine)).toBeNull();
  });
});
