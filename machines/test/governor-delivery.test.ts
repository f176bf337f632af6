import { describe, expect, it } from 'vitest';
import { at, cronSpec, everySpec, HOUR, MINUTE, plan, run, SECOND, T0 } from './governor-support.ts';

describe('overlap: skip', () => {
  const spec = everySpec(MINUTE, { overlap: 'skip' });

  it('skips the slots that fell due while the run was going, and runs the first one from now', () => {
    // The slot of T0 ran for 3m30s: the slots of +1m, +2m and +3m fell due meanwhile.
    const result = run({ spec, previousSlot: T0, previousRunStartedAt: T0, now: at(3 * MINUTE + 30 * SECOND) });
    expect(result).toEqual({
      kind: 'run',
      at: at(4 * MINUTE),
      reason: 'overlap skip: 3 slots fell due while the run was going (it took 3m30s); baseline every 1m',
      source: 'baseline',
      skipped: { count: 3, why: 'overlap' },
    });
  });

  it('skips a slot that fell due a moment before the run ended, with no grace', () => {
    const result = run({ spec, previousSlot: T0, previousRunStartedAt: T0, now: at(MINUTE + 1), lateToleranceMs: 10 * SECOND });
    expect(result).toMatchObject({ at: at(2 * MINUTE), skipped: { count: 1, why: 'overlap' } });
  });

  it('changes nothing when the run ended before the next slot, or away from a run', () => {
    expect(run({ spec, previousSlot: T0, previousRunStartedAt: T0, now: at(40 * SECOND) })).toMatchObject({ at: at(MINUTE), source: 'baseline', reason: 'baseline every 1m' });
    // Without a run just finished (a re-plan for hints), the catch-up policy judges missed slots.
    expect(run({ spec, previousSlot: T0, now: at(MINUTE + 5 * SECOND), lateToleranceMs: 10 * SECOND })).toMatchObject({ at: at(MINUTE), source: 'baseline' });
  });

  it('queue (the default) runs a slot that fell due during the run late, at once', () => {
    expect(run({ spec: everySpec(MINUTE), previousSlot: T0, previousRunStartedAt: T0, now: at(MINUTE + 2 * SECOND), lateToleranceMs: 10 * SECOND })).toMatchObject({ at: at(MINUTE), source: 'baseline' });
  });

  it('counts cron slots too', () => {
    const result = run({ spec: cronSpec('*/5 * * * *', 'UTC', { overlap: 'skip' }), previousSlot: T0, previousRunStartedAt: T0, now: at(12 * MINUTE) });
    expect(result).toMatchObject({ at: at(15 * MINUTE), skipped: { count: 2, why: 'overlap' } });
  });
});

describe('pauseAfter: the breaker', () => {
  const spec = everySpec(MINUTE, { pauseAfter: 3 });

  it('pauses once the slot just finished makes pauseAfter failures in a row, until a person resumes it', () => {
    expect(plan({ spec, previousSlot: T0, now: at(SECOND), consecutiveFailures: 2, justFinished: 'failed' })).toMatchObject({ kind: 'run' });
    expect(plan({ spec, previousSlot: T0, now: at(SECOND), consecutiveFailures: 3, justFinished: 'failed' })).toEqual({
      kind: 'pause',
      until: null,
      reason: 'paused by the breaker after 3 consecutive failed slots (pauseAfter 3): resume it once the target is fixed',
      source: 'breaker',
    });
  });

  it('stays paused while tripped (a hint re-plan does not lift it); a resumed endpoint gets its next try', () => {
    expect(plan({ spec, previousSlot: T0, now: at(SECOND), consecutiveFailures: 3, tripped: true })).toMatchObject({ kind: 'pause', source: 'breaker' });
    // Resumed (tripped cleared), planned away from a run: it runs, with its backoff.
    expect(plan({ spec, previousSlot: T0, now: at(SECOND), consecutiveFailures: 3 })).toMatchObject({ kind: 'run', source: 'backoff' });
  });

  it('leaves a person’s pause first, and never trips without pauseAfter', () => {
    expect(plan({ spec, previousSlot: T0, now: at(SECOND), consecutiveFailures: 3, justFinished: 'failed', userPause: { reason: 'mine', until: null } })).toMatchObject({ source: 'user' });
    expect(plan({ spec: everySpec(MINUTE), previousSlot: T0, now: at(SECOND), consecutiveFailures: 50, justFinished: 'failed' })).toMatchObject({ kind: 'run' });
  });
});

describe('Retry-After', () => {
  it('holds the next run back until the time the target asked for, saying so', () => {
    const result = run({ spec: everySpec(SECOND), previousSlot: T0, now: at(100), notBefore: at(5 * SECOND) });
    expect(result.at).toEqual(at(5 * SECOND));
    expect(result.reason).toBe(`baseline every 1s; held until ${at(5 * SECOND).toISOString()} by the target's Retry-After`);
  });

  it('changes nothing once that time is before the plan', () => {
    expect(run({ spec: everySpec(HOUR), previousSlot: T0, now: at(SECOND), notBefore: at(5 * SECOND) })).toMatchObject({ at: at(HOUR), reason: 'baseline every 1h' });
  });
});
