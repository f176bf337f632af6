/** planNextRun under hints (interval, run_at, pause_until) and a person's pause. */
import { describe, it, expect } from 'vitest';
import { SECOND, MINUTE, HOUR, T0, at, everySpec, cronSpec, plan, run, hint } from './governor-support.ts';

describe('interval hints', () => {
  const spec = everySpec(30 * SECOND, { minIntervalMs: 5 * SECOND, maxIntervalMs: 10 * MINUTE });
  const now = at(2 * SECOND);
  const previousSlot = T0;

  it('replaces the baseline interval, anchored on the previous slot', () => {
    const h = hint('interval', { intervalMs: 10 * SECOND, reason: 'queue is deep' });
    expect(run({ spec, now, previousSlot, hints: [h] })).toEqual({
      kind: 'run',
      at: at(10 * SECOND),
      reason: `hint (planner): every 10s until ${h.expiresAt.toISOString()}: queue is deep`,
      source: 'hint_interval',
    });
  });

  it('is clamped to minInterval', () => {
    const result = run({ spec, now, previousSlot, hints: [hint('interval', { intervalMs: SECOND })] });
    expect(result.at).toEqual(at(5 * SECOND));
    expect(result.source).toBe('hint_interval');
    expect(result.reason).toContain('clamped to min interval 5s');
  });

  it('is clamped to maxInterval', () => {
    const result = run({ spec, now, previousSlot, hints: [hint('interval', { intervalMs: HOUR })] });
    expect(result.at).toEqual(at(10 * MINUTE));
    expect(result.reason).toContain('clamped to max interval 10m');
  });

  it('is not clamped when the endpoint sets no bounds', () => {
    const result = run({ spec: everySpec(30 * SECOND), now, previousSlot, hints: [hint('interval', { intervalMs: 3 * SECOND })] });
    expect(result.at).toEqual(at(3 * SECOND));
    expect(result.reason).not.toContain('clamped');
  });

  it('is ignored once expired (expiry equal to now counts as expired)', () => {
    for (const expiresAt of [at(-1), now]) {
      expect(run({ spec, now, previousSlot, hints: [hint('interval', { intervalMs: 10 * SECOND, expiresAt })] })).toMatchObject({ at: at(30 * SECOND), source: 'baseline' });
    }
  });

  it('uses the most recently created interval hint, whatever the order', () => {
    const older = hint('interval', { intervalMs: 20 * SECOND, createdAt: at(-MINUTE) });
    const newer = hint('interval', { intervalMs: 8 * SECOND, createdAt: at(-SECOND) });
    expect(run({ spec, now, previousSlot, hints: [newer, older] }).at).toEqual(at(8 * SECOND));
    expect(run({ spec, now, previousSlot, hints: [older, newer] }).at).toEqual(at(8 * SECOND));
  });

  it('falls back to an older hint when the newer one has expired', () => {
    const older = hint('interval', { intervalMs: 20 * SECOND, createdAt: at(-MINUTE) });
    const newerExpired = hint('interval', { intervalMs: 8 * SECOND, createdAt: at(-SECOND), expiresAt: at(SECOND) });
    expect(run({ spec, now, previousSlot, hints: [older, newerExpired] }).at).toEqual(at(20 * SECOND));
  });

  it('takes precedence over failure backoff when it waits longer', () => {
    expect(run({ spec, now, previousSlot, consecutiveFailures: 1, hints: [hint('interval', { intervalMs: 10 * MINUTE })] })).toMatchObject({ at: at(10 * MINUTE), source: 'hint_interval' });
  });

  it('never makes a failing endpoint run sooner than its own backoff', () => {
    const plan = run({ spec, now, previousSlot, consecutiveFailures: 4, hints: [hint('interval', { intervalMs: 10 * SECOND })] });
    expect(plan.source).toBe('backoff');
    expect(plan.kind === 'run' && plan.at.getTime()).toBeGreaterThan(at(10 * SECOND).getTime());
    expect(plan.reason).toContain('later than the hint');
  });

  it('applies to cron endpoints too', () => {
    expect(run({ spec: cronSpec('0 * * * *'), now, previousSlot, hints: [hint('interval', { intervalMs: 5 * MINUTE })] }).at).toEqual(at(5 * MINUTE));
  });
});

describe('run_at hints', () => {
  const spec = everySpec(30 * SECOND);
  const now = at(2 * SECOND);
  const previousSlot = T0;

  it('brings the next run forward when earlier than the baseline', () => {
    const h = hint('run_at', { at: at(10 * SECOND), reason: 'new orders arrived', source: 'webhook' });
    expect(run({ spec, now, previousSlot, hints: [h] })).toEqual({
      kind: 'run',
      at: at(10 * SECOND),
      reason: `hint (webhook): run once at ${at(10 * SECOND).toISOString()}: new orders arrived`,
      source: 'hint_run_at',
    });
  });

  it('is ignored when not earlier than the baseline', () => {
    expect(run({ spec, now, previousSlot, hints: [hint('run_at', { at: at(30 * SECOND) })] }).source).toBe('baseline');
    expect(run({ spec, now, previousSlot, hints: [hint('run_at', { at: at(45 * SECOND) })] }).at).toEqual(at(30 * SECOND));
  });

  it('is ignored when at or before the previous slot (that run honoured it)', () => {
    for (const when of [previousSlot, at(-SECOND)]) {
      expect(run({ spec, now, previousSlot, hints: [hint('run_at', { at: when })] })).toMatchObject({ at: at(30 * SECOND), source: 'baseline' });
    }
  });

  it('uses the earliest of several run_at hints', () => {
    const hints = [hint('run_at', { at: at(20 * SECOND) }), hint('run_at', { at: at(10 * SECOND) }), hint('run_at', { at: at(15 * SECOND) })];
    expect(run({ spec, now, previousSlot, hints }).at).toEqual(at(10 * SECOND));
  });

  it('is clamped to previousSlot + minInterval', () => {
    const bounded = everySpec(30 * SECOND, { minIntervalMs: 5 * SECOND });
    const result = run({ spec: bounded, now: at(500), previousSlot, hints: [hint('run_at', { at: at(SECOND) })] });
    expect(result.at).toEqual(at(5 * SECOND));
    expect(result.source).toBe('hint_run_at');
    expect(result.reason).toContain('clamped to min interval 5s');
  });

  it('runs now when its time has already passed (never in the past)', () => {
    const result = run({ spec, now: at(20 * SECOND), previousSlot, hints: [hint('run_at', { at: at(15 * SECOND) })] });
    expect(result).toMatchObject({ at: at(20 * SECOND), source: 'hint_run_at' });
  });

  it('is ignored once expired', () => {
    expect(run({ spec, now, previousSlot, hints: [hint('run_at', { at: at(10 * SECOND), expiresAt: at(SECOND) })] }).source).toBe('baseline');
  });

  it('brings a cron endpoint forward on its first run', () => {
    const result = run({ spec: cronSpec('0 * * * *'), now: at(MINUTE), hints: [hint('run_at', { at: at(5 * MINUTE) })] });
    expect(result).toMatchObject({ at: at(5 * MINUTE), source: 'hint_run_at' });
  });

  it('can be earlier than an interval hint', () => {
    const hints = [hint('interval', { intervalMs: 20 * SECOND }), hint('run_at', { at: at(7 * SECOND) })];
    expect(run({ spec, now, previousSlot, hints })).toMatchObject({ at: at(7 * SECOND), source: 'hint_run_at' });
  });
});

describe('pause_until hints', () => {
  const now = at(2 * SECOND);
  const previousSlot = T0;

  it('pauses until the hint time', () => {
    const h = hint('pause_until', { at: at(HOUR), reason: 'target under maintenance', source: 'ops' });
    expect(plan({ spec: everySpec(30 * SECOND), now, previousSlot, hints: [h] })).toEqual({
      kind: 'pause',
      until: at(HOUR),
      reason: `hint (ops): pause until ${at(HOUR).toISOString()}: target under maintenance`,
      source: 'hint_pause',
    });
  });

  it('is capped at previousSlot + maxInterval', () => {
    const result = plan({ spec: everySpec(30 * SECOND, { maxIntervalMs: 10 * MINUTE }), now, previousSlot, hints: [hint('pause_until', { at: at(HOUR) })] });
    expect(result).toMatchObject({ kind: 'pause', until: at(10 * MINUTE), source: 'hint_pause' });
    expect(result.reason).toContain('clamped to max interval 10m');
  });

  it('is not capped when within maxInterval', () => {
    const result = plan({ spec: everySpec(30 * SECOND, { maxIntervalMs: 10 * MINUTE }), now, previousSlot, hints: [hint('pause_until', { at: at(5 * MINUTE) })] });
    expect(result).toMatchObject({ kind: 'pause', until: at(5 * MINUTE) });
    expect(result.reason).not.toContain('clamped');
  });

  it('caps a first-run pause at now + maxInterval', () => {
    const result = plan({ spec: everySpec(30 * SECOND, { maxIntervalMs: 10 * MINUTE }), now, hints: [hint('pause_until', { at: at(HOUR) })] });
    expect(result).toMatchObject({ kind: 'pause', until: at(10 * MINUTE, now) });
  });

  it('is ignored when maxInterval since the previous slot has already passed', () => {
    const spec = everySpec(30 * SECOND, { maxIntervalMs: 10 * MINUTE });
    const late = at(11 * MINUTE);
    expect(plan({ spec, now: late, previousSlot, hints: [hint('pause_until', { at: at(HOUR) })] }).kind).toBe('run');
  });

  it('is ignored when its time has passed or it has expired', () => {
    const spec = everySpec(30 * SECOND);
    expect(plan({ spec, now, previousSlot, hints: [hint('pause_until', { at: at(SECOND) })] })).toMatchObject({ kind: 'run', source: 'baseline' });
    expect(plan({ spec, now, previousSlot, hints: [hint('pause_until', { at: at(HOUR), expiresAt: at(SECOND) })] })).toMatchObject({ kind: 'run', source: 'baseline' });
  });

  it('beats interval and run_at hints', () => {
    const hints = [hint('interval', { intervalMs: 5 * SECOND }), hint('run_at', { at: at(3 * SECOND) }), hint('pause_until', { at: at(HOUR) })];
    expect(plan({ spec: everySpec(30 * SECOND), now, previousSlot, hints })).toMatchObject({ kind: 'pause', source: 'hint_pause' });
  });
});

describe('user pause', () => {
  const now = at(2 * SECOND);
  const previousSlot = T0;
  const spec = everySpec(30 * SECOND);

  it('pauses indefinitely when there is no end', () => {
    expect(plan({ spec, now, previousSlot, userPause: { reason: 'maintenance', until: null } })).toEqual({
      kind: 'pause',
      until: null,
      reason: 'paused by a person: maintenance',
      source: 'user',
    });
  });

  it('pauses until a future end', () => {
    expect(plan({ spec, now, previousSlot, userPause: { reason: 'deploy', until: at(HOUR) } })).toMatchObject({ kind: 'pause', until: at(HOUR), source: 'user' });
  });

  it('beats every kind of hint', () => {
    const hints = [hint('pause_until', { at: at(2 * HOUR) }), hint('run_at', { at: at(3 * SECOND) }), hint('interval', { intervalMs: 5 * SECOND })];
    expect(plan({ spec, now, previousSlot, hints, userPause: { reason: 'deploy', until: at(HOUR) } })).toMatchObject({ kind: 'pause', until: at(HOUR), source: 'user' });
  });

  it('is not capped by maxInterval', () => {
    const bounded = everySpec(30 * SECOND, { maxIntervalMs: MINUTE });
    expect(plan({ spec: bounded, now, previousSlot, userPause: { reason: 'r', until: at(HOUR) } })).toMatchObject({ kind: 'pause', until: at(HOUR) });
  });

  it('is ignored once its end has passed (or is now)', () => {
    for (const until of [at(SECOND), now]) {
      expect(plan({ spec, now, previousSlot, userPause: { reason: 'old', until } })).toMatchObject({ kind: 'run', at: at(30 * SECOND), source: 'baseline' });
    }
  });
});
