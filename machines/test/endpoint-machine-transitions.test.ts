/** The endpoint machine's transitions: the run cycle, outcomes, illegal events, takeover, release, skip and pause. */
import { describe, it, expect } from 'vitest';
import { TickwiseError } from '@tickwise/platform';
import { createEndpointSnapshot, ILLEGAL_TRANSITION, INITIAL_CONTEXT, stateOf, step, type EndpointEvent, type MachineState } from '@tickwise/machines';
import { T0, at, SLOT, PLANNED, run, machineIn, thrown } from './endpoint-machine-support.ts';

describe('createEndpointSnapshot', () => {
  it('starts in planning with the initial context and a CREATE record', () => {
    const { snapshot, record } = createEndpointSnapshot(T0);
    expect(stateOf(snapshot)).toBe('planning');
    expect(snapshot.context).toEqual(INITIAL_CONTEXT);
    expect(record).toEqual({ from: null, to: 'planning', event: 'CREATE', at: T0.toISOString() });
  });
});

describe('the run cycle', () => {
  it('goes planning → idle → due → running → planning → idle, recording each step', () => {
    const { snapshot, records } = run([
      PLANNED,
      { type: 'CLAIM', slot: SLOT },
      { type: 'DISPATCH' },
      { type: 'FINISH', outcome: 'succeeded' },
      { type: 'PLANNED', at: '2026-01-05T10:01:00.000Z', reason: 'baseline every 30s', source: 'baseline' },
    ]);
    expect(records).toEqual([
      { from: null, to: 'planning', event: 'CREATE', at: T0.toISOString() },
      { from: 'planning', to: 'idle', event: 'PLANNED', at: at(1_000).toISOString() },
      { from: 'idle', to: 'due', event: 'CLAIM', at: at(2_000).toISOString() },
      { from: 'due', to: 'running', event: 'DISPATCH', at: at(3_000).toISOString() },
      { from: 'running', to: 'planning', event: 'FINISH', at: at(4_000).toISOString() },
      { from: 'planning', to: 'idle', event: 'PLANNED', at: at(5_000).toISOString() },
    ]);
    expect(stateOf(snapshot)).toBe('idle');
    expect(snapshot.context).toEqual({
      consecutiveFailures: 0,
      lastOutcome: 'succeeded',
      lastSlot: SLOT,
      slot: null,
      attempt: 1,
      nextRunAt: '2026-01-05T10:01:00.000Z',
      reason: 'baseline every 30s',
      source: 'baseline',
      // The first slot was run: the next one may be skipped as missed like any other.
      fresh: false,
      tripped: false,
      notBefore: null,
    });
  });

  it('retries within the slot: RETRY goes back to due with the next attempt’s time, DISPATCH names the attempt', () => {
    const retryAt = at(6_000).toISOString();
    const { snapshot, records } = run([
      PLANNED,
      { type: 'CLAIM', slot: SLOT },
      { type: 'DISPATCH' },
      { type: 'RETRY', at: retryAt, reason: 'attempt 1 of 3 failed (HTTP 503); attempt 2 at …', notBefore: null },
      { type: 'DISPATCH', attempt: 2 },
      { type: 'FINISH', outcome: 'failed', notBefore: at(9_000).toISOString() },
    ]);
    expect(records.map((record) => `${record.from}→${record.to} ${record.event}`)).toEqual(['null→planning CREATE', 'planning→idle PLANNED', 'idle→due CLAIM', 'due→running DISPATCH', 'running→due RETRY', 'due→running DISPATCH', 'running→planning FINISH']);
    // One failed slot, however many attempts it took.
    expect(snapshot.context).toMatchObject({ attempt: 2, consecutiveFailures: 1, lastSlot: SLOT, notBefore: at(9_000).toISOString(), fresh: false });
  });

  it('keeps a new endpoint fresh until its first slot is run or skipped, and makes a resumed or restored one fresh again', () => {
    expect(run([PLANNED]).snapshot.context.fresh).toBe(true);
    expect(run([PLANNED, { type: 'CLAIM', slot: SLOT }, { type: 'SKIP' }]).snapshot.context.fresh).toBe(false);
    const ran = [PLANNED, { type: 'CLAIM', slot: SLOT }, { type: 'DISPATCH' }, { type: 'FINISH', outcome: 'succeeded' }, PLANNED] as const;
    expect(run([...ran]).snapshot.context.fresh).toBe(false);
    expect(run([...ran, { type: 'REPLAN', reason: 'hint' }]).snapshot.context.fresh).toBe(false);
    expect(run([...ran, { type: 'REPLAN', reason: 'restored', fresh: true }]).snapshot.context.fresh).toBe(true);
    const paused = [...ran, { type: 'REPLAN', reason: 'p' }, { type: 'PAUSED', until: null, reason: 'breaker', source: 'breaker' }] as const;
    expect(run([...paused]).snapshot.context).toMatchObject({ tripped: true, fresh: false });
    expect(run([...paused, { type: 'RESUME' }]).snapshot.context).toMatchObject({ tripped: false, fresh: true });
  });

  it('PLANNED stores the next run, its reason and source', () => {
    const { snapshot } = run([{ type: 'PLANNED', at: SLOT, reason: 'hint (x): every 5s', source: 'hint_interval' }]);
    expect(snapshot.context).toMatchObject({ nextRunAt: SLOT, reason: 'hint (x): every 5s', source: 'hint_interval' });
  });

  it('CLAIM records the slot and starts at attempt 1', () => {
    const { snapshot } = run([PLANNED, { type: 'CLAIM', slot: SLOT }]);
    expect(snapshot.context).toMatchObject({ slot: SLOT, attempt: 1 });
  });

  it('does not change the snapshot it was given', () => {
    const before = machineIn('idle');
    const copy = structuredClone(before.context);
    step(before, { type: 'CLAIM', slot: SLOT }, T0);
    expect(stateOf(before)).toBe('idle');
    expect(before.context).toEqual(copy);
  });
});

describe('FINISH outcomes', () => {
  const finish = (outcome: 'succeeded' | 'failed'): EndpointEvent[] => [PLANNED, { type: 'CLAIM', slot: SLOT }, { type: 'DISPATCH' }, { type: 'FINISH', outcome }];

  it('counts consecutive failures', () => {
    const { snapshot } = run([...finish('failed'), ...finish('failed'), ...finish('failed')]);
    expect(stateOf(snapshot)).toBe('planning');
    expect(snapshot.context).toMatchObject({ consecutiveFailures: 3, lastOutcome: 'failed', lastSlot: SLOT, slot: null });
  });

  it('resets the count on success', () => {
    const { snapshot } = run([...finish('failed'), ...finish('failed'), ...finish('succeeded')]);
    expect(snapshot.context).toMatchObject({ consecutiveFailures: 0, lastOutcome: 'succeeded' });
  });

  it('starts counting again after a success', () => {
    const { snapshot } = run([...finish('failed'), ...finish('succeeded'), ...finish('failed')]);
    expect(snapshot.context.consecutiveFailures).toBe(1);
  });
});

describe('illegal events', () => {
  it.each<[MachineState, EndpointEvent]>([
    ['idle', { type: 'DISPATCH' }],
    ['idle', { type: 'FINISH', outcome: 'succeeded' }],
    ['idle', PLANNED],
    ['idle', { type: 'RESUME' }],
    ['due', { type: 'FINISH', outcome: 'failed' }],
    ['due', { type: 'CLAIM', slot: SLOT }],
    ['due', { type: 'REPLAN', reason: 'r' }],
    ['running', { type: 'CLAIM', slot: SLOT }],
    ['running', { type: 'DISPATCH' }],
    ['running', { type: 'SKIP' }],
    ['planning', { type: 'CLAIM', slot: SLOT }],
    ['planning', { type: 'FINISH', outcome: 'succeeded' }],
    ['planning', { type: 'REPLAN', reason: 'r' }],
    ['paused', { type: 'CLAIM', slot: SLOT }],
    ['paused', PLANNED],
    ['paused', { type: 'DISPATCH' }],
  ])('in %s, %o throws illegal_transition', (state, event) => {
    const snapshot = machineIn(state);
    const error = thrown(() => step(snapshot, event, T0));
    expect(error).toBeInstanceOf(TickwiseError);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ code: 'failed_precondition', reason: ILLEGAL_TRANSITION, message: `event ${event.type} is not allowed in state ${state}` });
    expect(stateOf(snapshot)).toBe(state);
  });
});

describe('takeover', () => {
  it('TAKE_OVER in due re-enters due with the new attempt and slot', () => {
    const { snapshot, records } = run([PLANNED, { type: 'CLAIM', slot: SLOT }, { type: 'TAKE_OVER', attempt: 2, slot: SLOT }]);
    expect(records.at(-1)).toMatchObject({ from: 'due', to: 'due', event: 'TAKE_OVER' });
    expect(snapshot.context).toMatchObject({ attempt: 2, slot: SLOT });
  });

  it('TAKE_OVER in running goes back to due with the new attempt', () => {
    const { snapshot, records } = run([PLANNED, { type: 'CLAIM', slot: SLOT }, { type: 'DISPATCH' }, { type: 'TAKE_OVER', attempt: 3, slot: SLOT }]);
    expect(records.at(-1)).toMatchObject({ from: 'running', to: 'due', event: 'TAKE_OVER' });
    expect(snapshot.context).toMatchObject({ attempt: 3, slot: SLOT });
  });

  it('a taken-over run can be dispatched and finished', () => {
    const { snapshot } = run([
      PLANNED,
      { type: 'CLAIM', slot: SLOT },
      { type: 'DISPATCH' },
      { type: 'TAKE_OVER', attempt: 2, slot: SLOT },
      { type: 'DISPATCH' },
      { type: 'FINISH', outcome: 'failed' },
    ]);
    expect(stateOf(snapshot)).toBe('planning');
    expect(snapshot.context).toMatchObject({ attempt: 2, lastSlot: SLOT, consecutiveFailures: 1 });
  });
});

describe('RELEASE and SKIP', () => {
  it('RELEASE from due returns to idle, the slot handed back as the next run, the reason kept', () => {
    const { snapshot, records } = run([PLANNED, { type: 'CLAIM', slot: SLOT }, { type: 'RELEASE' }]);
    expect(records.at(-1)).toMatchObject({ from: 'due', to: 'idle', event: 'RELEASE' });
    expect(snapshot.context).toMatchObject({ slot: null, nextRunAt: SLOT, reason: 'baseline every 30s', lastSlot: null });
    // A slot that moved since the plan (a takeover of another slot, a row edited by hand) is what comes back.
    const moved = '2026-01-05T10:00:45.000Z';
    expect(run([PLANNED, { type: 'CLAIM', slot: moved }, { type: 'RELEASE' }]).snapshot.context.nextRunAt).toBe(moved);
  });

  it('RELEASE from running returns to idle without counting an outcome', () => {
    const { snapshot, records } = run([PLANNED, { type: 'CLAIM', slot: SLOT }, { type: 'DISPATCH' }, { type: 'RELEASE' }]);
    expect(records.at(-1)).toMatchObject({ from: 'running', to: 'idle', event: 'RELEASE' });
    expect(snapshot.context).toMatchObject({ slot: null, nextRunAt: SLOT, lastOutcome: null, consecutiveFailures: 0 });
  });

  it('SKIP from due goes to planning and marks the slot as the last one', () => {
    const { snapshot, records } = run([PLANNED, { type: 'CLAIM', slot: SLOT }, { type: 'SKIP' }]);
    expect(records.at(-1)).toMatchObject({ from: 'due', to: 'planning', event: 'SKIP' });
    expect(snapshot.context).toMatchObject({ lastSlot: SLOT, slot: null, lastOutcome: null });
  });
});

describe('pause and replanning', () => {
  it('PAUSED goes to paused and stores the end, reason and source', () => {
    const { snapshot, records } = run([{ type: 'PAUSED', until: '2026-01-05T11:00:00.000Z', reason: 'hint (ops): pause', source: 'hint_pause' }]);
    expect(records.at(-1)).toMatchObject({ from: 'planning', to: 'paused', event: 'PAUSED' });
    expect(snapshot.context).toMatchObject({ nextRunAt: '2026-01-05T11:00:00.000Z', reason: 'hint (ops): pause', source: 'hint_pause' });
  });

  it('an indefinite pause has no next run', () => {
    expect(machineIn('paused').context).toMatchObject({ nextRunAt: null, source: 'user' });
  });

  it.each<EndpointEvent>([{ type: 'RESUME' }, { type: 'REPLAN', reason: 'spec changed' }])('$type leaves paused for planning', (event) => {
    const next = step(machineIn('paused'), event, T0);
    expect(next.record).toEqual({ from: 'paused', to: 'planning', event: event.type, at: T0.toISOString() });
  });

  it('REPLAN leaves idle for planning', () => {
    const next = step(machineIn('idle'), { type: 'REPLAN', reason: 'hint added' }, T0);
    expect(next.record).toMatchObject({ from: 'idle', to: 'planning', event: 'REPLAN' });
  });
});
