/** Fixtures shared by the endpoint-machine-*.test.ts files: a fixed clock, a spec, and machines driven to a state. */
import { expect } from 'vitest';
import {
  createEndpointSnapshot,
  stateOf,
  step,
  type EndpointEvent,
  type EndpointSnapshot,
  type EndpointSpec,
  type MachineState,
  type TransitionRecord,
} from '@tickwise/machines';

export const T0 = new Date('2026-01-05T10:00:00.000Z');
export const at = (offsetMs: number) => new Date(T0.getTime() + offsetMs);
export const SLOT = '2026-01-05T10:00:30.000Z';
export const everySpec: EndpointSpec = {
  url: 'http://localhost:9999/x',
  method: 'GET',
  headers: {},
  schedule: { kind: 'every', everyMs: 30_000 },
  jitter: 0,
  timeoutMs: 10_000,
  catchUp: 'skip',
};

export const PLANNED: EndpointEvent = { type: 'PLANNED', at: SLOT, reason: 'baseline every 30s', source: 'baseline' };

/** Applies events in order from a new machine; returns the final snapshot and every record. */
export function run(events: EndpointEvent[]): { snapshot: EndpointSnapshot; records: TransitionRecord[] } {
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
export function machineIn(state: MachineState): EndpointSnapshot {
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

export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}
