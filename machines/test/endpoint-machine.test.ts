import { describe, it, expect } from 'vitest';
import {
  createEndpointSnapshot,
  endpointMachine,
  IllegalTransitionError,
  INITIAL_CONTEXT,
  MACHINE_STATES,
  persistSnapshot,
  restoreSnapshot,
  settlePlanning,
  SNAPSHOT_SCHEMA_VERSION,
  stateOf,
  step,
  type EndpointEvent,
  type EndpointSnapshot,
  type EndpointSpec,
  type MachineState,
  type TransitionRecord,
} from '@tickwise/machines';

const T0 = new Date('2026-01-05T10:00:00.000Z');
const at = (offsetMs: number) => new Date(T0.getTime() + offsetMs);
const SLOT = '2026-01-05T10:00:30.000Z';
const everySpec: EndpointSpec = {
  url: 'http://localhost:9999/x',
  method: 'GET',
  headers: {},
  schedule: { kind: 'every', everyMs: 30_000 },
  jitter: 0,
  timeoutMs: 10_000,
  catchUp: 'skip',
};

const PLANNED: EndpointEvent = { type: 'PLANNED', at: SLOT, reason: 'baseline every 30s', source: 'baseline' };

/** Applies events in order from a new machine; returns the final snapshot and every record. */
function run(events: EndpointEvent[]): { snapshot: EndpointSnapshot; records: TransitionRecord[] } {
  const created = createEndpointSnapshot(T0);
  let snapshot = created.snapshot;
  const records = [created.record];
  events.forEach((event, i) => {
    const next = step(snapshot, event, at((i + 1) * 1_000));
    snapshot = next.snapshot;
    records.push(next.record);
  });
  return { snapshot, records };
}

/** A machine brought to `state` through legal events. */
function machineIn(state: MachineState): EndpointSnapshot {
  const paths: Record<MachineState, EndpointEvent[]> = {
    planning: [],
    idle: [PLANNED],
    due: [PLANNED, { type: 'CLAIM', slot: SLOT }],
    running: [PLANNED, { type: 'CLAIM', slot: SLOT }, { type: 'DISPATCH' }],
    paused: [{ type: 'PAUSED', until: null, reason: 'paused by a person: r', source: 'user' }],
  };
  const { snapshot } = run(paths[state]);
  expect(stateOf(snapshot)).toBe(state);
  return snapshot;
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

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
    });
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
  ])('in %s, %o throws IllegalTransitionError', (state, event) => {
    const snapshot = machineIn(state);
    const error = thrown(() => step(snapshot, event, T0));
    expect(error).toBeInstanceOf(IllegalTransitionError);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name: 'IllegalTransitionError', state, eventType: event.type, message: `event ${event.type} is not allowed in state ${state}` });
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
  it('RELEASE from due returns to idle, forgets the slot, keeps the plan', () => {
    const { snapshot, records } = run([PLANNED, { type: 'CLAIM', slot: SLOT }, { type: 'RELEASE' }]);
    expect(records.at(-1)).toMatchObject({ from: 'due', to: 'idle', event: 'RELEASE' });
    expect(snapshot.context).toMatchObject({ slot: null, nextRunAt: SLOT, reason: 'baseline every 30s', lastSlot: null });
  });

  it('RELEASE from running returns to idle without counting an outcome', () => {
    const { snapshot, records } = run([PLANNED, { type: 'CLAIM', slot: SLOT }, { type: 'DISPATCH' }, { type: 'RELEASE' }]);
    expect(records.at(-1)).toMatchObject({ from: 'running', to: 'idle', event: 'RELEASE' });
    expect(snapshot.context).toMatchObject({ slot: null, lastOutcome: null, consecutiveFailures: 0 });
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

describe('settlePlanning', () => {
  const now = at(2_500);

  it('leaves a new interval endpoint idle with its first run now', () => {
    const { snapshot } = createEndpointSnapshot(T0);
    const settled = settlePlanning(snapshot, { spec: everySpec, now, hints: [], random: () => 0 });
    expect(stateOf(settled.snapshot)).toBe('idle');
    expect(settled.plan).toMatchObject({ kind: 'run', at: now, source: 'first_run' });
    expect(settled.snapshot.context).toMatchObject({ nextRunAt: now.toISOString(), reason: 'first run of every 30s', source: 'first_run' });
    expect(settled.record).toEqual({
      from: 'planning',
      to: 'idle',
      event: 'PLANNED',
      at: now.toISOString(),
      reason: 'first run of every 30s',
      nextRunAt: now.toISOString(),
    });
  });

  it('plans from the last slot and the failure count kept in the machine', () => {
    const { snapshot } = run([
      { type: 'PLANNED', at: T0.toISOString(), reason: 'first run', source: 'first_run' },
      { type: 'CLAIM', slot: T0.toISOString() },
      { type: 'DISPATCH' },
      { type: 'FINISH', outcome: 'failed' },
    ]);
    const settled = settlePlanning(snapshot, { spec: everySpec, now, hints: [], random: () => 0 });
    expect(settled.plan).toMatchObject({ kind: 'run', at: at(60_000), source: 'backoff' });
    expect(settled.snapshot.context).toMatchObject({ nextRunAt: at(60_000).toISOString(), source: 'backoff', consecutiveFailures: 1 });
  });

  it('plans the baseline after a success', () => {
    const { snapshot } = run([
      { type: 'PLANNED', at: T0.toISOString(), reason: 'first run', source: 'first_run' },
      { type: 'CLAIM', slot: T0.toISOString() },
      { type: 'DISPATCH' },
      { type: 'FINISH', outcome: 'succeeded' },
    ]);
    const settled = settlePlanning(snapshot, { spec: everySpec, now, hints: [], random: () => 0 });
    expect(settled.snapshot.context.nextRunAt).toBe(at(30_000).toISOString());
  });

  it('passes the catch-up inputs through', () => {
    const { snapshot } = run([
      { type: 'PLANNED', at: T0.toISOString(), reason: 'first run', source: 'first_run' },
      { type: 'CLAIM', slot: T0.toISOString() },
      { type: 'DISPATCH' },
      { type: 'FINISH', outcome: 'succeeded' },
    ]);
    const spec: EndpointSpec = { ...everySpec, catchUp: 'once' };
    const late = at(30_000 + 2_000);
    expect(settlePlanning(snapshot, { spec, now: late, hints: [], random: () => 0, lateToleranceMs: 5_000 }).plan).toMatchObject({ at: at(30_000), source: 'baseline' });
    expect(settlePlanning(snapshot, { spec, now: late, hints: [], random: () => 0 }).plan).toMatchObject({ at: late, source: 'catch_up' });
    expect(settlePlanning(snapshot, { spec, now: late, hints: [], random: () => 0, previousRunStartedAt: at(31_000) }).plan).toMatchObject({ at: at(60_000), source: 'catch_up' });
  });

  it('leaves the machine paused for a user pause', () => {
    const { snapshot } = createEndpointSnapshot(T0);
    const settled = settlePlanning(snapshot, { spec: everySpec, now, hints: [], userPause: { reason: 'maintenance', until: null }, random: () => 0 });
    expect(stateOf(settled.snapshot)).toBe('paused');
    expect(settled.plan).toEqual({ kind: 'pause', until: null, reason: 'paused by a person: maintenance', source: 'user' });
    expect(settled.record).toMatchObject({ from: 'planning', to: 'paused', event: 'PAUSED', reason: 'paused by a person: maintenance', nextRunAt: null });
  });

  it('stores the end of a timed pause as the next run', () => {
    const until = at(3_600_000);
    const { snapshot } = createEndpointSnapshot(T0);
    const hint = { id: 'h', kind: 'pause_until' as const, at: until, reason: 'deploy', source: 'ops', createdAt: T0, expiresAt: at(7_200_000) };
    const settled = settlePlanning(snapshot, { spec: everySpec, now, hints: [hint], random: () => 0 });
    expect(stateOf(settled.snapshot)).toBe('paused');
    expect(settled.snapshot.context).toMatchObject({ nextRunAt: until.toISOString(), source: 'hint_pause' });
    expect(settled.record.nextRunAt).toBe(until.toISOString());
  });

  it('throws IllegalTransitionError outside planning', () => {
    for (const state of ['idle', 'due', 'running', 'paused'] as const) {
      expect(() => settlePlanning(machineIn(state), { spec: everySpec, now, hints: [], random: () => 0 })).toThrow(IllegalTransitionError);
    }
  });
});

describe('persistSnapshot / restoreSnapshot', () => {
  it('round-trips every state through JSON', () => {
    for (const state of MACHINE_STATES) {
      const snapshot = machineIn(state);
      const stored: unknown = JSON.parse(JSON.stringify(persistSnapshot(snapshot)));
      expect(stored).toEqual({ schemaVersion: SNAPSHOT_SCHEMA_VERSION, value: state, context: snapshot.context });
      const restored = restoreSnapshot(stored, { state, nextRunAt: null });
      expect(restored.rebuilt).toBe(false);
      expect(stateOf(restored.snapshot)).toBe(state);
      expect(restored.snapshot.context).toEqual(snapshot.context);
    }
  });

  it('keeps the failure count and last slot through a round trip, so planning continues', () => {
    const { snapshot } = run([PLANNED, { type: 'CLAIM', slot: SLOT }, { type: 'DISPATCH' }, { type: 'FINISH', outcome: 'failed' }]);
    const restored = restoreSnapshot(JSON.parse(JSON.stringify(persistSnapshot(snapshot))), { state: 'planning', nextRunAt: null });
    const settled = settlePlanning(restored.snapshot, { spec: everySpec, now: at(31_000), hints: [], random: () => 0 });
    expect(settled.plan).toMatchObject({ kind: 'run', at: new Date(new Date(SLOT).getTime() + 60_000), source: 'backoff' });
  });

  it('gives a machine that accepts the next events', () => {
    const stored = JSON.parse(JSON.stringify(persistSnapshot(machineIn('due'))));
    const { snapshot } = restoreSnapshot(stored, { state: 'due', nextRunAt: new Date(SLOT) });
    const next = step(snapshot, { type: 'DISPATCH' }, T0);
    expect(next.record).toMatchObject({ from: 'due', to: 'running' });
    expect(() => step(snapshot, { type: 'CLAIM', slot: SLOT }, T0)).toThrow(IllegalTransitionError);
  });

  describe('rebuilds from the row facts instead of failing', () => {
    const good = persistSnapshot(machineIn('running'));
    const row = { state: 'idle' as const, nextRunAt: new Date('2026-01-05T10:05:00.000Z') };
    const damaged: [string, unknown][] = [
      ['another schema version', { ...good, schemaVersion: SNAPSHOT_SCHEMA_VERSION + 1 }],
      ['an older schema version', { ...good, schemaVersion: 0 }],
      ['no schema version', { value: good.value, context: good.context }],
      ['null', null],
      ['undefined', undefined],
      ['a string', 'not json at all'],
      ['an array', [1, 2, 3]],
      ['an empty object', {}],
      ['an unknown state', { ...good, value: 'exploded' }],
      ['a missing context', { schemaVersion: SNAPSHOT_SCHEMA_VERSION, value: 'idle' }],
      ['a negative failure count', { ...good, value: 'idle', context: { ...good.context, consecutiveFailures: -1 } }],
      ['a fractional attempt', { ...good, value: 'idle', context: { ...good.context, attempt: 1.5 } }],
      ['an unknown outcome', { ...good, value: 'idle', context: { ...good.context, lastOutcome: 'maybe' } }],
      ['a value that disagrees with the row state', good],
    ];

    it.each(damaged)('%s', (_label, stored) => {
      const restored = restoreSnapshot(stored, row);
      expect(restored.rebuilt).toBe(true);
      expect(stateOf(restored.snapshot)).toBe('idle');
      expect(restored.snapshot.context).toEqual({
        ...INITIAL_CONTEXT,
        nextRunAt: '2026-01-05T10:05:00.000Z',
        reason: 'machine rebuilt from an unreadable snapshot',
      });
    });

    it.each(MACHINE_STATES)('into %s, giving a working machine', (state) => {
      const restored = restoreSnapshot({ schemaVersion: 99 }, { state, nextRunAt: null });
      expect(restored.rebuilt).toBe(true);
      expect(stateOf(restored.snapshot)).toBe(state);
      expect(restored.snapshot.context.nextRunAt).toBeNull();
      expect(restored.snapshot.machine).toBe(endpointMachine);
    });

    it('a rebuilt planning machine can be settled', () => {
      const restored = restoreSnapshot('garbage', { state: 'planning', nextRunAt: null });
      const settled = settlePlanning(restored.snapshot, { spec: everySpec, now: T0, hints: [], random: () => 0 });
      expect(settled.plan).toMatchObject({ kind: 'run', at: T0, source: 'first_run' });
    });

    it('a rebuilt idle machine can be claimed', () => {
      const restored = restoreSnapshot(null, { state: 'idle', nextRunAt: T0 });
      expect(step(restored.snapshot, { type: 'CLAIM', slot: T0.toISOString() }, T0).record).toMatchObject({ from: 'idle', to: 'due' });
    });
  });
});

describe('restoring a snapshot with a damaged time', () => {
  it('rebuilds it instead of letting planning crash', () => {
    const stored = { schemaVersion: 1, value: 'planning', context: { ...INITIAL_CONTEXT, lastSlot: 'not-a-date' } };
    const restored = restoreSnapshot(stored, { state: 'planning', nextRunAt: null });
    expect(restored.rebuilt).toBe(true);
    expect(restored.snapshot.context.lastSlot).toBeNull();
  });
});

describe('settlePlanning when the governor cannot plan', () => {
  it('pauses the machine with the reason instead of throwing', () => {
    const planning = createEndpointSnapshot(new Date('2026-01-05T10:00:00Z')).snapshot;
    const spec: EndpointSpec = { url: 'http://x/', method: 'GET', headers: {}, schedule: { kind: 'cron', cron: '0 0 30 2 *', timezone: 'UTC' }, jitter: 0, timeoutMs: 1_000, catchUp: 'skip' };
    const settled = settlePlanning(planning, { spec, now: new Date('2026-01-05T10:00:00Z'), hints: [], random: () => 0 });
    expect(stateOf(settled.snapshot)).toBe('paused');
    expect(settled.plan).toMatchObject({ kind: 'pause', until: null, source: 'planning_error' });
    expect(settled.record.reason).toMatch(/^planning failed, paused until the endpoint is fixed: cron "0 0 30 2 \*" has no run after/);
  });
});
