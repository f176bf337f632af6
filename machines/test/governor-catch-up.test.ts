/** planNextRun after missed slots: the skip and once catch-up policies, late tolerance, and the cost of a long outage. */
import { describe, it, expect } from 'vitest';
import { SECOND, MINUTE, HOUR, T0, at, iso, everySpec, cronSpec, run, hint } from './governor-support.ts';

describe('catch-up of missed slots', () => {
  const previousSlot = T0;

  describe('skip', () => {
    const spec = everySpec(MINUTE);

    it('skips to the next future slot, keeping the interval phase', () => {
      const result = run({ spec, now: at(5 * MINUTE + 30 * SECOND), previousSlot });
      expect(result).toEqual({
        kind: 'run',
        at: at(6 * MINUTE),
        reason: 'catch-up: skipped 5 missed slots; baseline every 1m',
        source: 'catch_up',
        skipped: { count: 5, why: 'catch_up' },
      });
      expect((result.at.getTime() - T0.getTime()) % MINUTE).toBe(0);
    });

    it('counts a single missed slot in the singular', () => {
      expect(run({ spec, now: at(MINUTE + 30 * SECOND), previousSlot })).toMatchObject({
        at: at(2 * MINUTE),
        reason: 'catch-up: skipped 1 missed slot; baseline every 1m',
      });
    });

    it('skips missed cron slots to the next one after now', () => {
      const result = run({ spec: cronSpec('0 * * * *'), now: at(3 * HOUR + 20 * MINUTE), previousSlot });
      expect(result).toEqual({
        kind: 'run',
        at: at(4 * HOUR),
        reason: 'catch-up: skipped 3 missed slots; baseline cron "0 * * * *" (UTC)',
        source: 'catch_up',
        skipped: { count: 3, why: 'catch_up' },
      });
    });

    it('skips missed cron slots in a time zone across the spring change', () => {
      const spec = cronSpec('0 9 * * *', 'Europe/Paris');
      const result = run({ spec, now: iso('2026-03-30T10:00:00Z'), previousSlot: iso('2026-03-27T08:00:00Z') });
      expect(result.at).toEqual(iso('2026-03-31T07:00:00Z'));
      expect(result.reason).toContain('skipped 3 missed slots');
    });

    it('skips after a backoff that has already elapsed', () => {
      const result = run({ spec: everySpec(30 * SECOND), now: at(5 * MINUTE + 10 * SECOND), previousSlot, consecutiveFailures: 1 });
      expect(result).toMatchObject({ at: at(5 * MINUTE + 30 * SECOND), source: 'catch_up' });
    });
  });

  describe('once', () => {
    const spec = everySpec(MINUTE, { catchUp: 'once' });

    it('runs once, now, for all the missed slots', () => {
      const now = at(5 * MINUTE + 30 * SECOND);
      expect(run({ spec, now, previousSlot })).toEqual({
        kind: 'run',
        at: now,
        reason: `catch-up: running once now for 5 missed slots since ${at(MINUTE).toISOString()}`,
        source: 'catch_up',
      });
    });

    it('runs now when a missed slot fell after the previous run started', () => {
      const now = at(5 * MINUTE + 30 * SECOND);
      expect(run({ spec, now, previousSlot, previousRunStartedAt: at(100) })).toMatchObject({ at: now, source: 'catch_up' });
    });

    it('skips to the future when every missed slot fell before the previous run started (that run covered them)', () => {
      // The run of slot T0 started late, at T0+5m10s, as the catch-up run; slots up to T0+5m are covered.
      const result = run({ spec, now: at(5 * MINUTE + 30 * SECOND), previousSlot, previousRunStartedAt: at(5 * MINUTE + 10 * SECOND) });
      expect(result).toMatchObject({ at: at(6 * MINUTE), source: 'catch_up' });
      expect(result.reason).toContain('skipped');
    });

    it('treats a slot due exactly when the previous run started as covered', () => {
      const result = run({ spec, now: at(5 * MINUTE + 30 * SECOND), previousSlot, previousRunStartedAt: at(5 * MINUTE) });
      expect(result.at).toEqual(at(6 * MINUTE));
    });

    it('runs missed cron slots once, now', () => {
      const now = at(3 * HOUR + 20 * MINUTE);
      const result = run({ spec: cronSpec('0 * * * *', 'UTC', { catchUp: 'once' }), now, previousSlot });
      expect(result).toMatchObject({ at: now, source: 'catch_up' });
      expect(result.reason).toBe(`catch-up: running once now for 3 missed slots since ${at(HOUR).toISOString()}`);
    });

    it('skips covered cron slots to the next one', () => {
      const spec = cronSpec('0 * * * *', 'UTC', { catchUp: 'once' });
      const result = run({ spec, now: at(3 * HOUR + 20 * MINUTE), previousSlot, previousRunStartedAt: at(3 * HOUR + MINUTE) });
      expect(result).toMatchObject({ at: at(4 * HOUR), source: 'catch_up' });
    });
  });

  describe('late tolerance', () => {
    const spec = everySpec(MINUTE);

    it('still runs a slot that is late by no more than the tolerance, at its own time', () => {
      expect(run({ spec, now: at(MINUTE + 2 * SECOND), previousSlot, lateToleranceMs: 5 * SECOND })).toMatchObject({ at: at(MINUTE), source: 'baseline' });
    });

    it('applies the catch-up policy beyond the tolerance', () => {
      expect(run({ spec, now: at(MINUTE + 2 * SECOND), previousSlot, lateToleranceMs: SECOND })).toMatchObject({ at: at(2 * MINUTE), source: 'catch_up' });
    });

    it('defaults to no tolerance', () => {
      expect(run({ spec, now: at(MINUTE + 1), previousSlot }).source).toBe('catch_up');
    });

    it('runs a slot due exactly now without catch-up', () => {
      expect(run({ spec, now: at(MINUTE), previousSlot })).toMatchObject({ at: at(MINUTE), source: 'baseline' });
    });
  });

  it('brings an interval hint that has fallen behind up to now', () => {
    const now = at(5 * MINUTE);
    expect(run({ spec: everySpec(MINUTE), now, previousSlot, hints: [hint('interval', { intervalMs: 30 * SECOND })] })).toMatchObject({ at: now, source: 'hint_interval' });
  });
});

describe('catch-up cost and coverage', () => {
  it('describes a long cron outage without walking every slot', () => {
    const started = performance.now();
    const result = run({ spec: cronSpec('* * * * *'), previousSlot: T0, now: at(2 * 24 * HOUR) });
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(result.source).toBe('catch_up');
    expect(result.reason).toContain('skipped more than 100 missed slots');
  });

  it('once: runs again only for slots that fell due after the previous run started', () => {
    const spec = cronSpec('0 * * * *', 'UTC', { catchUp: 'once' });
    // The previous run (of a slot 5h old) started 10 min ago: the slots before it are covered.
    const covered = run({ spec, previousSlot: at(-5 * HOUR), previousRunStartedAt: at(-10 * MINUTE), now: T0 });
    expect(covered.source).toBe('catch_up');
    expect(covered.at.getTime()).toBe(at(HOUR).getTime());
    // It started 2h ago and a slot fell due since: run once now.
    const uncovered = run({ spec, previousSlot: at(-5 * HOUR), previousRunStartedAt: at(-2 * HOUR), now: at(1) });
    expect(uncovered.at.getTime()).toBe(at(1).getTime());
  });
});
