/** The heuristic against the governor: the baseline gap it reads from a schedule, and a failure-streak hint matching the governor's own backoff. */
import { describe, expect, it } from 'vitest';
import { nextBaselineSlot, planNextRun, type EndpointSpec, type Hint } from '@tickwise/machines';
import { baselineIntervalMs, heuristicDecision, HEURISTIC_DEFAULTS } from '../src/analysis/index.ts';
import { SECOND, MINUTE, HOUR, DAY, NOW, everySpec, cronSpec, spec10s, fail, picture, hint, times } from './support/heuristic.ts';

describe('baselineIntervalMs', () => {
  it.each([
    ['an interval', everySpec(30 * SECOND), NOW, 30 * SECOND],
    ['cron every 5 minutes', cronSpec('*/5 * * * *', 'UTC'), NOW, 5 * MINUTE],
    ['cron with seconds', cronSpec('*/15 * * * * *', 'UTC'), NOW, 15 * SECOND],
    // 2026-03-29 02:00 CET → 03:00 CEST: 09:00 on the 28th to 09:00 on the 29th is 23 h.
    ['daily cron across the spring DST change', cronSpec('0 9 * * *', 'Europe/Paris'), new Date('2026-03-28T07:00:00Z'), 23 * HOUR],
    // 2026-10-25 03:00 CEST → 02:00 CET: 25 h.
    ['daily cron across the autumn DST change', cronSpec('0 9 * * *', 'Europe/Paris'), new Date('2026-10-24T06:00:00Z'), 25 * HOUR],
    ['daily cron away from DST', cronSpec('0 9 * * *', 'Europe/Paris'), new Date('2026-06-10T06:00:00Z'), DAY],
    ['weekday cron over a weekend', cronSpec('0 9 * * 1-5', 'UTC'), new Date('2026-11-27T10:00:00Z'), DAY],
  ])('%s', (_name, spec, now, expected) => {
    expect(baselineIntervalMs(spec, now)).toBe(expected);
  });

  it('remembers cron gaps without ever giving a stale one', () => {
    const spec = cronSpec('0 9 * * *', 'Europe/Paris');
    const fresh = (now: Date) => {
      const first = nextBaselineSlot(spec, now);
      return nextBaselineSlot(spec, first).getTime() - first.getTime();
    };
    // Forward across the spring change hour by hour, then back in time.
    const nows = Array.from({ length: 96 }, (_, hour) => new Date(Date.UTC(2026, 2, 27, hour, 30)));
    for (const now of [...nows, ...nows.reverse()]) expect(baselineIntervalMs(spec, now)).toBe(fresh(now));
  });
});

describe('the failure-streak hint and the governor', () => {
  const specs: [string, EndpointSpec][] = [
    ['10s, no maxInterval', spec10s],
    ['10s, maxInterval 2m', everySpec(10 * SECOND, { maxIntervalMs: 2 * MINUTE })],
    ['1m, maxInterval 1h', everySpec(MINUTE, { maxIntervalMs: HOUR })],
  ];
  const gapAfter = (spec: EndpointSpec, consecutiveFailures: number, hints: Hint[]) => {
    const plan = planNextRun({ spec, now: NOW, previousSlot: NOW, consecutiveFailures, hints, random: () => 0 });
    if (plan.kind !== 'run') throw new Error(`expected a run, got ${plan.reason}`);
    return plan.at.getTime() - NOW.getTime();
  };

  it.each(specs)("proposes the governor's own backoff, which it never shortens; it holds after a success (%s)", (_name, spec) => {
    for (let streak = HEURISTIC_DEFAULTS.failureStreak; streak <= 12; streak++) {
      const backoff = gapAfter(spec, streak, []);
      expect(heuristicDecision(picture(spec, times(streak, fail()))).proposals).toEqual([{ kind: 'interval', intervalMs: backoff, ttlMs: expect.any(Number), reason: expect.any(String) }]);
      const inForce = [hint('interval', { intervalMs: backoff })];
      expect(gapAfter(spec, streak, inForce)).toBe(backoff);
      expect(gapAfter(spec, streak + 1, inForce)).toBe(gapAfter(spec, streak + 1, []));
      expect(gapAfter(spec, 0, inForce)).toBe(backoff);
    }
  });
});
