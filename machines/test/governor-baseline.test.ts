/** planNextRun without hints: the baseline of interval and cron schedules (time zones, DST) and the backoff after failures. */
import { describe, it, expect } from 'vitest';
import { DEFAULT_BACKOFF_CAP_MS, nextBaselineSlot } from '@tickwise/machines';
import { SECOND, MINUTE, HOUR, T0, at, iso, everySpec, cronSpec, run, localTime } from './governor-support.ts';

describe('baseline: every', () => {
  it('runs one interval after the previous slot, not after now', () => {
    const result = run({ spec: everySpec(30 * SECOND), now: at(2_500), previousSlot: T0 });
    expect(result).toEqual({ kind: 'run', at: at(30 * SECOND), reason: 'baseline every 30s', source: 'baseline' });
  });

  it('does not drift when every run finishes late', () => {
    const spec = everySpec(30 * SECOND);
    let previousSlot = T0;
    for (let k = 1; k <= 10; k++) {
      const result = run({ spec, now: at(4 * SECOND + 123, previousSlot), previousSlot });
      expect(result.at).toEqual(at(k * 30 * SECOND));
      previousSlot = result.at;
    }
  });

  it('runs the first run of an interval endpoint at once', () => {
    const now = at(123);
    expect(run({ spec: everySpec(30 * SECOND), now })).toEqual({ kind: 'run', at: now, reason: 'first run of every 30s', source: 'first_run' });
  });

  it('runs the first run at once even with failures on record', () => {
    const now = at(123);
    expect(run({ spec: everySpec(30 * SECOND), now, consecutiveFailures: 4 })).toMatchObject({ at: now, source: 'first_run' });
  });
});

describe('baseline: cron', () => {
  it('waits for the next cron slot on a first run (no run at once)', () => {
    const result = run({ spec: cronSpec('*/15 * * * *'), now: at(7 * MINUTE) });
    expect(result).toEqual({ kind: 'run', at: at(15 * MINUTE), reason: 'baseline cron "*/15 * * * *" (UTC)', source: 'baseline' });
  });

  it('runs at the next slot strictly after the previous one', () => {
    expect(run({ spec: cronSpec('0 * * * *'), now: at(3 * SECOND), previousSlot: T0 }).at).toEqual(at(HOUR));
  });

  it('nextBaselineSlot is strictly after its argument', () => {
    expect(nextBaselineSlot(cronSpec('0 * * * *'), T0)).toEqual(at(HOUR));
    expect(nextBaselineSlot(cronSpec('0 * * * *'), at(-1))).toEqual(T0);
    expect(nextBaselineSlot(everySpec(5 * SECOND), T0)).toEqual(at(5 * SECOND));
  });

  describe('Europe/Paris across daylight saving time', () => {
    const spec = cronSpec('0 9 * * *', 'Europe/Paris');

    it('keeps 09:00 local: 08:00Z before the spring change (2026-03-29), 07:00Z after', () => {
      const slots: string[] = [];
      let previousSlot = iso('2026-03-27T08:00:00Z');
      for (let i = 0; i < 3; i++) {
        previousSlot = run({ spec, now: at(SECOND, previousSlot), previousSlot }).at;
        slots.push(previousSlot.toISOString());
      }
      expect(slots).toEqual(['2026-03-28T08:00:00.000Z', '2026-03-29T07:00:00.000Z', '2026-03-30T07:00:00.000Z']);
    });

    it('keeps 09:00 local across the autumn change (2026-10-25): 07:00Z then 08:00Z', () => {
      const previousSlot = iso('2026-10-24T07:00:00Z');
      expect(run({ spec, now: at(SECOND, previousSlot), previousSlot }).at).toEqual(iso('2026-10-25T08:00:00Z'));
    });

    it('runs a local time that does not exist on the spring-forward day once, right after the gap (03:00)', () => {
      // On 2026-03-29 Paris clocks jump from 02:00 CET to 03:00 CEST: 02:30 does not exist that day.
      const daily = cronSpec('30 2 * * *', 'Europe/Paris');
      const previousSlot = iso('2026-03-28T01:30:00Z'); // 02:30 CET
      const result = run({ spec: daily, now: at(SECOND, previousSlot), previousSlot });
      expect(result.at).toEqual(iso('2026-03-29T01:00:00Z'));
      expect(localTime(result.at, 'Europe/Paris')).toBe('03:00');
      // The next day is back to 02:30 local, now CEST.
      const after = run({ spec: daily, now: at(SECOND, result.at), previousSlot: result.at });
      expect(after.at).toEqual(iso('2026-03-30T00:30:00Z'));
      expect(localTime(after.at, 'Europe/Paris')).toBe('02:30');
    });

    it('runs a local time that occurs twice on the fall-back day once, at its first pass', () => {
      const daily = cronSpec('30 2 * * *', 'Europe/Paris');
      const first = nextBaselineSlot(daily, iso('2026-10-24T12:00:00Z'));
      const second = nextBaselineSlot(daily, first);
      expect(first).toEqual(iso('2026-10-25T00:30:00Z')); // 02:30 CEST, the first 02:30 of the day
      expect(localTime(first, 'Europe/Paris')).toBe('02:30');
      expect(second).toEqual(iso('2026-10-26T01:30:00Z'));
    });

    it('runs every 15 minutes through both passes of the repeated hour: 8 runs from 02:00 CEST to 03:00 CET', () => {
      const quarter = cronSpec('*/15 * * * *', 'Europe/Paris');
      const slots: string[] = [];
      for (let slot = iso('2026-10-25T00:00:00Z'); slot < iso('2026-10-25T02:00:00Z'); slot = nextBaselineSlot(quarter, slot)) slots.push(localTime(slot, 'Europe/Paris'));
      expect(slots).toEqual(['02:00', '02:15', '02:30', '02:45', '02:00', '02:15', '02:30', '02:45']);
    });
  });

  describe('America/New_York across daylight saving time', () => {
    const spec = cronSpec('0 9 * * *', 'America/New_York');

    it('keeps 09:00 local: 14:00Z before 2026-03-08, 13:00Z after', () => {
      const previousSlot = iso('2026-03-07T14:00:00Z');
      expect(run({ spec, now: at(SECOND, previousSlot), previousSlot }).at).toEqual(iso('2026-03-08T13:00:00Z'));
    });

    it('keeps 09:00 local across the autumn change: 13:00Z then 14:00Z on 2026-11-01', () => {
      const previousSlot = iso('2026-10-31T13:00:00Z');
      expect(run({ spec, now: at(SECOND, previousSlot), previousSlot }).at).toEqual(iso('2026-11-01T14:00:00Z'));
    });

    it('runs 02:30, missing on 2026-03-08, at 03:00 EDT, right after the gap', () => {
      const daily = cronSpec('30 2 * * *', 'America/New_York');
      const previousSlot = iso('2026-03-07T07:30:00Z');
      const result = run({ spec: daily, now: at(SECOND, previousSlot), previousSlot });
      expect(result.at).toEqual(iso('2026-03-08T07:00:00Z'));
      expect(localTime(result.at, 'America/New_York')).toBe('03:00');
    });

    it('plans from 01:15 EST, the second pass, to the next day\'s 01:30, never back to 01:30 EDT', () => {
      const daily = cronSpec('30 1 * * *', 'America/New_York');
      expect(nextBaselineSlot(daily, iso('2026-11-01T06:15:00Z'))).toEqual(iso('2026-11-02T06:30:00Z'));
      // From the first pass, the first pass's 01:30 EDT.
      expect(nextBaselineSlot(daily, iso('2026-11-01T05:15:00Z'))).toEqual(iso('2026-11-01T05:30:00Z'));
    });
  });
});

describe('backoff after consecutive failures', () => {
  const previousSlot = T0;
  const now = at(2 * SECOND);

  it('doubles the interval per failure, up to the 15 minute default cap', () => {
    const spec = everySpec(30 * SECOND);
    const waits = [1, 2, 3, 4, 5, 6, 10].map((failures) => run({ spec, now, previousSlot, consecutiveFailures: failures }).at.getTime() - T0.getTime());
    expect(waits).toEqual([60, 120, 240, 480, 900, 900, 900].map((s) => s * SECOND));
    expect(DEFAULT_BACKOFF_CAP_MS).toBe(15 * MINUTE);
  });

  it('names the failures and the cap in the reason', () => {
    const spec = everySpec(30 * SECOND);
    expect(run({ spec, now, previousSlot, consecutiveFailures: 1 })).toEqual({
      kind: 'run',
      at: at(MINUTE),
      reason: 'backoff after 1 consecutive failure: waiting 1m (cap 15m)',
      source: 'backoff',
    });
    expect(run({ spec, now, previousSlot, consecutiveFailures: 3 }).reason).toBe('backoff after 3 consecutive failures: waiting 4m (cap 15m)');
  });

  it('is capped by maxInterval', () => {
    const spec = everySpec(30 * SECOND, { maxIntervalMs: 2 * MINUTE });
    const waits = [1, 2, 3, 8].map((failures) => run({ spec, now, previousSlot, consecutiveFailures: failures }).at.getTime() - T0.getTime());
    expect(waits).toEqual([MINUTE, 2 * MINUTE, 2 * MINUTE, 2 * MINUTE]);
    expect(run({ spec, now, previousSlot, consecutiveFailures: 3 }).reason).toContain('cap 2m');
  });

  it('stays on the baseline when maxInterval equals the interval', () => {
    const spec = everySpec(30 * SECOND, { maxIntervalMs: 30 * SECOND });
    expect(run({ spec, now, previousSlot, consecutiveFailures: 3 })).toEqual({
      kind: 'run',
      at: at(30 * SECOND),
      reason: 'baseline every 30s (backoff capped at 30s)',
      source: 'baseline',
    });
  });

  it('never shortens an interval longer than the default cap', () => {
    const spec = everySpec(20 * MINUTE);
    expect(run({ spec, now, previousSlot, consecutiveFailures: 2 })).toMatchObject({ at: at(20 * MINUTE), source: 'baseline' });
  });

  it('survives a huge failure count without overflowing', () => {
    const spec = everySpec(30 * SECOND, { maxIntervalMs: HOUR });
    expect(run({ spec, now, previousSlot, consecutiveFailures: 10_000 }).at).toEqual(at(HOUR));
  });

  it('treats zero failures as no backoff', () => {
    expect(run({ spec: everySpec(30 * SECOND), now, previousSlot, consecutiveFailures: 0 }).source).toBe('baseline');
  });

  it('lands on a cron slot for a cron schedule, capped at 15 minutes by default', () => {
    const spec = cronSpec('*/5 * * * *');
    expect(run({ spec, now, previousSlot, consecutiveFailures: 1 })).toMatchObject({ at: at(10 * MINUTE), source: 'backoff' });
    expect(run({ spec, now, previousSlot, consecutiveFailures: 2 })).toMatchObject({ at: at(15 * MINUTE), source: 'backoff' });
    expect(run({ spec, now, previousSlot, consecutiveFailures: 9 }).reason).toBe('backoff after 9 consecutive failures: waiting 15m (cap 15m)');
  });

  it('rounds up to the next cron slot when the backoff falls between slots', () => {
    // Slots at 09:00, 10:00 and 17:00; from 09:00 the gap is 1h, so one failure waits 2h → 11:00 → the 17:00 slot.
    const spec = cronSpec('0 9,10,17 * * *', 'UTC', { maxIntervalMs: 12 * HOUR });
    const nine = iso('2026-01-05T09:00:00Z');
    const result = run({ spec, now: at(SECOND, nine), previousSlot: nine, consecutiveFailures: 1 });
    expect(result).toEqual({
      kind: 'run',
      at: iso('2026-01-05T17:00:00Z'),
      reason: 'backoff after 1 consecutive failure: waiting 8h (cap 12h)',
      source: 'backoff',
    });
    // Three failures wait 8h → exactly 17:00, which is a slot itself.
    expect(run({ spec, now: at(SECOND, nine), previousSlot: nine, consecutiveFailures: 3 }).at).toEqual(iso('2026-01-05T17:00:00Z'));
  });

  it('gives an hourly cron without maxInterval no backoff (its gap is already above the default cap)', () => {
    expect(run({ spec: cronSpec('0 * * * *'), now, previousSlot, consecutiveFailures: 5 })).toMatchObject({ at: at(HOUR), source: 'baseline' });
  });
});
