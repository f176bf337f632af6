/** planNextRun jitter: its range, which plans get it, when random() is called, and maxInterval. */
import { describe, it, expect } from 'vitest';
import { SECOND, MINUTE, HOUR, T0, at, everySpec, cronSpec, noRandom, plan, run, hint } from './governor-support.ts';

describe('jitter', () => {
  const previousSlot = T0;
  const now = at(2 * SECOND);
  const spec = everySpec(30 * SECOND, { jitter: 0.1 });

  it('adds nothing when random() is 0', () => {
    const result = run({ spec, now, previousSlot, random: () => 0 });
    expect(result).toEqual({ kind: 'run', at: at(30 * SECOND), reason: 'baseline every 30s', source: 'baseline' });
  });

  it('adds just under jitter × interval when random() is 0.999', () => {
    const result = run({ spec, now, previousSlot, random: () => 0.999 });
    const delay = result.at.getTime() - at(30 * SECOND).getTime();
    expect(delay).toBe(2_997);
    expect(delay).toBeLessThan(0.1 * 30 * SECOND);
    expect(result.reason).toBe('baseline every 30s + jitter 2s997ms');
    expect(result.source).toBe('baseline');
  });

  it('scales linearly with random()', () => {
    expect(run({ spec, now, previousSlot, random: () => 0.5 }).at).toEqual(at(30 * SECOND + 1_500));
  });

  it('stays within [0, jitter × interval) for any random value', () => {
    for (let r = 0; r < 1; r += 0.0625) {
      const delay = run({ spec, now, previousSlot, random: () => r }).at.getTime() - at(30 * SECOND).getTime();
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(3_000);
    }
  });

  it('uses the gap to the following slot for cron schedules', () => {
    const result = run({ spec: cronSpec('0 * * * *', 'UTC', { jitter: 0.5 }), now, previousSlot, random: () => 0.5 });
    expect(result.at).toEqual(at(HOUR + 15 * MINUTE));
    expect(result.reason).toContain('+ jitter 15m');
  });

  it('applies to backoff, based on the interval', () => {
    expect(run({ spec, now, previousSlot, consecutiveFailures: 1, random: () => 0.5 })).toMatchObject({ at: at(MINUTE + 1_500), source: 'backoff' });
  });

  it('applies to catch-up plans', () => {
    const catchUpOnce = everySpec(30 * SECOND, { jitter: 0.1, catchUp: 'once' });
    const late = at(5 * MINUTE);
    expect(run({ spec: catchUpOnce, now: late, previousSlot, random: () => 0.5 })).toMatchObject({ at: at(1_500, late), source: 'catch_up' });
    expect(run({ spec, now: at(5 * MINUTE + 10 * SECOND), previousSlot, random: () => 0.5 })).toMatchObject({ at: at(5 * MINUTE + 30 * SECOND + 1_500), source: 'catch_up' });
  });

  it('is never applied to hint plans or the first run (random() is not even called)', () => {
    expect(run({ spec, now, previousSlot, hints: [hint('interval', { intervalMs: 10 * SECOND })], random: noRandom }).at).toEqual(at(10 * SECOND));
    expect(run({ spec, now, previousSlot, hints: [hint('run_at', { at: at(10 * SECOND) })], random: noRandom }).at).toEqual(at(10 * SECOND));
    expect(run({ spec, now, random: noRandom }).at).toEqual(now);
  });

  it('does not call random() when the endpoint has no jitter', () => {
    expect(run({ spec: everySpec(30 * SECOND), now, previousSlot, random: noRandom }).at).toEqual(at(30 * SECOND));
  });

  it('does not call random() for pauses', () => {
    expect(plan({ spec, now, previousSlot, userPause: { reason: 'r', until: null }, random: noRandom }).kind).toBe('pause');
  });
});

describe('jitter and maxInterval', () => {
  it('never stretches a gap past maxInterval', () => {
    const spec = everySpec(30 * SECOND, { jitter: 0.1, maxIntervalMs: 30 * SECOND });
    const result = run({ spec, previousSlot: T0, now: at(1), random: () => 0.99 });
    expect(result.at.getTime()).toBe(at(30 * SECOND).getTime());
  });
});
