/** persistSnapshot / restoreSnapshot: round trips, and rebuilding a machine from the row when the snapshot is damaged. */
import { describe, it, expect } from 'vitest';
import {
  INITIAL_CONTEXT,
  MACHINE_STATES,
  persistSnapshot,
  restoreSnapshot,
  settlePlanning,
  SNAPSHOT_SCHEMA_VERSION,
  stateOf,
  step,
} from '@tickwise/machines';
import { T0, at, SLOT, everySpec, PLANNED, run, machineIn } from './endpoint-machine-support.ts';

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
    expect(() => step(snapshot, { type: 'CLAIM', slot: SLOT }, T0)).toThrow(/is not allowed in state/);
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
      expect(JSON.parse(JSON.stringify(restored.snapshot))).toEqual(restored.snapshot);
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
