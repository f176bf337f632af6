/** settlePlanning: how a machine in planning takes the governor's plan (runs, pauses, planning errors). */
import { describe, it, expect } from 'vitest';
import { createEndpointSnapshot, settlePlanning, stateOf, type EndpointSpec } from '@tickwise/machines';
import { T0, at, everySpec, run, machineIn } from './endpoint-machine-support.ts';

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

  it('throws illegal_transition outside planning', () => {
    for (const state of ['idle', 'due', 'running', 'paused'] as const) {
      expect(() => settlePlanning(machineIn(state), { spec: everySpec, now, hints: [], random: () => 0 })).toThrow(/is not allowed in state/);
    }
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
