/** heuristicDecision, case by case: failure streaks, Retry-After, recovery, slowness and the floors and ceilings it respects. */
import { describe, expect, it } from 'vitest';
import {
  baselineIntervalMs,
  heuristicDecision,
  resolveHeuristicSettings,
  type EndpointPicture,
  type HeuristicSettings,
  type HintProposal,
} from '../src/analysis/index.ts';
import { SECOND, MINUTE, HOUR, DAY, ago, ahead, everySpec, cronSpec, spec10s, ok, fail, picture, hint, times } from './support/heuristic.ts';

interface Case {
  name: string;
  picture: EndpointPicture;
  settings?: Partial<HeuristicSettings>;
  proposals: HintProposal[];
  reasoning: string | RegExp;
}

const retryRun = (status: number, retryAfterMs: number) => fail(status, { retryAfterMs, finishedAt: ago(SECOND), durationMs: 50 });

const cases: Case[] = [
  { name: 'no runs yet', picture: picture(spec10s, []), proposals: [], reasoning: 'no change: no runs yet' },
  {
    name: 'healthy endpoint',
    picture: picture(spec10s, times(10, ok())),
    proposals: [],
    reasoning: 'no change: latest run succeeded, median duration 100ms over 10 runs against the baseline 10s',
  },
  {
    name: 'two failures are not a streak',
    picture: picture(spec10s, [ok(), fail(), fail()]),
    proposals: [],
    reasoning: /^no change: latest run failed \(HTTP 500\), 2 consecutive failures, backoff from 3/,
  },
  {
    name: 'three failures: back off to baseline × 2^3, as the governor does',
    picture: picture(spec10s, [ok(), fail(), fail(), fail()]),
    proposals: [{ kind: 'interval', intervalMs: 80 * SECOND, ttlMs: 800 * SECOND, reason: expect.any(String) as unknown as string }],
    reasoning: '3 consecutive failures (latest: HTTP 500): every 1m20s (baseline 10s × 2^3) for 13m20s',
  },
  {
    name: 'five failures: baseline × 2^5, ttl ten intervals',
    picture: picture(spec10s, times(5, fail(null))),
    proposals: [{ kind: 'interval', intervalMs: 320 * SECOND, ttlMs: 3_200 * SECOND, reason: expect.any(String) as unknown as string }],
    reasoning: '5 consecutive failures (latest: timeout): every 5m20s (baseline 10s × 2^5) for 53m20s',
  },
  {
    name: 'a long streak is capped by maxInterval',
    picture: picture(everySpec(10 * SECOND, { maxIntervalMs: 2 * MINUTE }), times(12, fail())),
    proposals: [{ kind: 'interval', intervalMs: 2 * MINUTE, ttlMs: 20 * MINUTE, reason: expect.any(String) as unknown as string }],
    reasoning: '12 consecutive failures (latest: HTTP 500): every 2m (baseline 10s × 2^12, capped at 2m) for 20m',
  },
  {
    name: 'without maxInterval the cap is 15 minutes',
    picture: picture(spec10s, times(30, fail())),
    proposals: [{ kind: 'interval', intervalMs: 15 * MINUTE, ttlMs: 150 * MINUTE, reason: expect.any(String) as unknown as string }],
    reasoning: /every 15m \(baseline 10s × 2\^20, capped at 15m\) for 2h30m$/,
  },
  {
    name: 'a baseline at the cap leaves no room: nothing proposed, nothing sped up',
    picture: picture(everySpec(HOUR), times(4, fail())),
    proposals: [],
    reasoning: 'no change: 4 consecutive failures (latest: HTTP 500), but the ceiling 1h leaves no room above the baseline 1h',
  },
  {
    name: 'the failure streak threshold is configurable',
    picture: picture(spec10s, times(4, fail())),
    settings: { failureStreak: 5 },
    proposals: [],
    reasoning: /^no change: latest run failed \(HTTP 500\), 4 consecutive failures, backoff from 5/,
  },
  {
    name: '429 without Retry-After counts as a failure',
    picture: picture(spec10s, times(3, fail(429))),
    proposals: [{ kind: 'interval', intervalMs: 80 * SECOND, ttlMs: 800 * SECOND, reason: expect.any(String) as unknown as string }],
    reasoning: '3 consecutive failures (latest: HTTP 429): every 1m20s (baseline 10s × 2^3) for 13m20s',
  },
  {
    name: '503 with Retry-After later than the next baseline run: pause until then',
    picture: picture(spec10s, [ok(), retryRun(503, 5 * MINUTE)]),
    proposals: [{ kind: 'pause_until', at: new Date(ago(SECOND).getTime() + 5 * MINUTE), reason: expect.any(String) as unknown as string }],
    reasoning: `the target answered HTTP 503 with Retry-After 5m: pausing until ${new Date(ago(SECOND).getTime() + 5 * MINUTE).toISOString()} instead of running at ${new Date(ago(SECOND + 50).getTime() + 10 * SECOND).toISOString()}`,
  },
  {
    name: 'Retry-After wins over a failure streak',
    picture: picture(spec10s, [fail(), fail(), fail(), retryRun(429, 2 * MINUTE)]),
    proposals: [{ kind: 'pause_until', at: new Date(ago(SECOND).getTime() + 2 * MINUTE), reason: expect.any(String) as unknown as string }],
    reasoning: /^the target answered HTTP 429 with Retry-After 2m: pausing until/,
  },
  {
    name: 'Retry-After sooner than the baseline never makes it run sooner',
    picture: picture(everySpec(MINUTE), [ok(), retryRun(429, 2 * SECOND)]),
    proposals: [],
    reasoning: /^no change: latest run failed \(HTTP 429\).*; the target answered HTTP 429 with Retry-After 2s, which ends before the next baseline run at /,
  },
  {
    name: 'Retry-After on another status is not honoured',
    picture: picture(spec10s, [ok(), retryRun(500, 5 * MINUTE)]),
    proposals: [],
    reasoning: /^no change: latest run failed \(HTTP 500\)/,
  },
  {
    name: 'Retry-After from a target is bounded (a day without maxInterval)',
    picture: picture(spec10s, [retryRun(503, 30 * DAY)]),
    proposals: [{ kind: 'pause_until', at: new Date(ago(SECOND).getTime() + DAY), reason: expect.any(String) as unknown as string }],
    reasoning: /pausing until .* \(capped\)/,
  },
  {
    name: "Retry-After inside a person's longer pause changes nothing",
    picture: picture(spec10s, [retryRun(503, 5 * MINUTE)], { activeHints: [hint('pause_until', { source: 'ops:alice', at: ahead(HOUR) })] }),
    proposals: [],
    reasoning: /a person's pause until .* already covers it$/,
  },
  {
    name: 'recovery clears the planner hints',
    picture: picture(spec10s, [fail(), fail(), fail(), ok()], { activeHints: [hint('interval', { intervalMs: 20 * SECOND })] }),
    proposals: [{ kind: 'clear', reason: expect.any(String) as unknown as string }],
    reasoning: "recovered: the last 1 run succeeded: clearing the planner's interval hint, back to the baseline every 10s",
  },
  {
    name: "recovery leaves a person's hints alone and says so",
    picture: picture(spec10s, [fail(), ok()], {
      activeHints: [hint('interval', { intervalMs: 20 * SECOND }), hint('pause_until', { at: ahead(MINUTE) }), hint('interval', { source: 'ops:bob', intervalMs: MINUTE })],
    }),
    proposals: [{ kind: 'clear', reason: expect.any(String) as unknown as string }],
    reasoning: "recovered: the last 1 run succeeded: clearing the planner's interval, pause_until hints, back to the baseline every 10s (a person's 1 hint stays)",
  },
  {
    name: 'recovery waits for the configured number of successes',
    picture: picture(spec10s, [fail(), ok()], { activeHints: [hint('interval', { intervalMs: 20 * SECOND })] }),
    settings: { recoverySuccesses: 2 },
    proposals: [],
    reasoning: /^no change: latest run succeeded/,
  },
  {
    name: 'only a manual hint in force: nothing is cleared',
    picture: picture(spec10s, [fail(), ok()], { activeHints: [hint('interval', { source: 'ops:bob', intervalMs: MINUTE })] }),
    proposals: [],
    reasoning: /^no change: latest run succeeded/,
  },
  {
    name: 'an expired planner hint is not cleared again',
    picture: picture(spec10s, [fail(), ok()], { activeHints: [hint('interval', { intervalMs: 20 * SECOND, expiresAt: ago(1) })] }),
    proposals: [],
    reasoning: /^no change: latest run succeeded/,
  },
  {
    name: "a failure streak does not override a person's interval hint",
    picture: picture(spec10s, times(3, fail()), { activeHints: [hint('interval', { source: 'ops:bob', intervalMs: 5 * SECOND })] }),
    proposals: [],
    reasoning: /^no change: 3 consecutive failures \(latest: HTTP 500\), but a person's interval hint \(every 5s until .*\) is in force: left alone$/,
  },
  {
    // Half of the 13m20s life is 6m40s: 9 min ahead is more.
    name: 'the same backoff already in force is not rewritten',
    picture: picture(spec10s, times(3, fail()), { activeHints: [hint('interval', { intervalMs: 80 * SECOND, expiresAt: ahead(9 * MINUTE) })] }),
    proposals: [],
    reasoning: `no change: 3 consecutive failures (latest: HTTP 500); already every 1m20s until ${ahead(9 * MINUTE).toISOString()}`,
  },
  {
    name: 'the same backoff about to expire is renewed',
    picture: picture(spec10s, times(3, fail()), { activeHints: [hint('interval', { intervalMs: 80 * SECOND, expiresAt: ahead(MINUTE) })] }),
    proposals: [{ kind: 'interval', intervalMs: 80 * SECOND, ttlMs: 800 * SECOND, reason: expect.any(String) as unknown as string }],
    reasoning: /every 1m20s \(baseline 10s × 2\^3\) for 13m20s$/,
  },
  {
    name: 'consistently slow against the interval: double it',
    picture: picture(spec10s, times(5, ok(6 * SECOND))),
    proposals: [{ kind: 'interval', intervalMs: 20 * SECOND, ttlMs: 10 * MINUTE, reason: expect.any(String) as unknown as string }],
    reasoning: 'consistently slow: median duration 6s of the last 5 runs is more than half the baseline 10s: every 20s (baseline 10s × 2) for 10m',
  },
  {
    name: 'much too slow: double until a run fits in half the interval',
    picture: picture(everySpec(10 * SECOND, { timeoutMs: MINUTE }), times(6, ok(25 * SECOND))),
    proposals: [{ kind: 'interval', intervalMs: 80 * SECOND, ttlMs: 800 * SECOND, reason: expect.any(String) as unknown as string }],
    reasoning: /every 1m20s \(baseline 10s × 8\)/,
  },
  {
    name: 'consistently close to the timeout',
    picture: picture(everySpec(10 * MINUTE, { maxIntervalMs: HOUR }), times(5, ok(9 * SECOND))),
    proposals: [{ kind: 'interval', intervalMs: 20 * MINUTE, ttlMs: 200 * MINUTE, reason: expect.any(String) as unknown as string }],
    reasoning: 'consistently slow: median duration 9s of the last 5 runs is above 80% of the timeout 10s: every 20m (baseline 10m × 2) for 3h20m',
  },
  {
    name: 'slowness needs five runs',
    picture: picture(spec10s, times(4, ok(9 * SECOND))),
    proposals: [],
    reasoning: /^no change: latest run succeeded, median duration 9s over 4 runs/,
  },
  {
    name: 'the median ignores a few slow outliers',
    picture: picture(spec10s, [ok(9 * SECOND), ok(9 * SECOND), ok(), ok(), ok()]),
    proposals: [],
    reasoning: /^no change/,
  },
  {
    name: 'slow with its slow-down in force: recovery does not clear it',
    picture: picture(spec10s, times(5, ok(6 * SECOND)), { activeHints: [hint('interval', { intervalMs: 20 * SECOND, expiresAt: ahead(9 * MINUTE) })] }),
    proposals: [],
    reasoning: /^no change: consistently slow: .*; already every 20s until/,
  },
  {
    name: 'never below minInterval (cron baseline under the floor)',
    picture: picture(cronSpec('* * * * *', 'UTC', { minIntervalMs: 10 * MINUTE }), times(3, fail())),
    proposals: [{ kind: 'interval', intervalMs: 10 * MINUTE, ttlMs: 100 * MINUTE, reason: expect.any(String) as unknown as string }],
    reasoning: '3 consecutive failures (latest: HTTP 500): every 10m (baseline 1m × 2^3, raised to the floor 10m) for 1h40m',
  },
  {
    // 8 × 23 h, not 8 × 24 h; a life of two intervals, longer than 7 days because the interval needs it.
    name: 'a daily cron across DST backs off from its 23 h baseline',
    picture: {
      ...picture(cronSpec('0 9 * * *', 'Europe/Paris', { maxIntervalMs: 10 * DAY }), times(3, fail())),
      baselineIntervalMs: baselineIntervalMs(cronSpec('0 9 * * *', 'Europe/Paris'), new Date('2026-03-28T07:00:00Z')),
    },
    proposals: [{ kind: 'interval', intervalMs: 184 * HOUR, ttlMs: 368 * HOUR, reason: expect.any(String) as unknown as string }],
    reasoning: '3 consecutive failures (latest: HTTP 500): every 7d16h (baseline 23h × 2^3) for 15d8h',
  },
  {
    name: 'a long backoff within its cap lives at most 7 days',
    picture: {
      ...picture(cronSpec('0 9 * * *', 'Europe/Paris', { maxIntervalMs: 3 * DAY }), times(3, fail())),
      baselineIntervalMs: baselineIntervalMs(cronSpec('0 9 * * *', 'Europe/Paris'), new Date('2026-03-28T07:00:00Z')),
    },
    proposals: [{ kind: 'interval', intervalMs: 3 * DAY, ttlMs: 7 * DAY, reason: expect.any(String) as unknown as string }],
    reasoning: '3 consecutive failures (latest: HTTP 500): every 3d (baseline 23h × 2^3, capped at 3d) for 7d',
  },
  {
    name: 'an unreadable picture gives no change instead of an error',
    picture: { ...picture(spec10s, times(3, fail())), baselineIntervalMs: Number.NaN },
    proposals: [],
    reasoning: 'no change: the baseline interval is unknown (NaN)',
  },
];

describe('heuristicDecision', () => {
  it.each(cases)('$name', ({ picture: input, settings, proposals, reasoning }) => {
    const frozen = structuredClone(input);
    const decision = heuristicDecision(input, resolveHeuristicSettings(settings));
    expect(decision.proposals).toEqual(proposals);
    if (typeof reasoning === 'string') expect(decision.reasoning).toBe(reasoning);
    else expect(decision.reasoning).toMatch(reasoning);
    // The proposal carries the same words the history shows.
    for (const proposal of decision.proposals) expect(decision.reasoning).toContain(proposal.reason);
    expect(decision).toMatchObject({ planner: 'heuristic', toolCalls: [], model: null, tokensIn: null, tokensOut: null, fallback: null });
    expect(input).toEqual(frozen);
  });

  it('every interval it proposes is at least the baseline and minInterval, and every hint expires', () => {
    for (const { picture: input, settings } of cases) {
      for (const proposal of heuristicDecision(input, resolveHeuristicSettings(settings)).proposals) {
        if (proposal.kind !== 'interval') continue;
        expect(proposal.intervalMs).toBeGreaterThanOrEqual(Math.max(input.baselineIntervalMs, input.spec.minIntervalMs ?? 0));
        expect(Number.isFinite(proposal.ttlMs) && proposal.ttlMs > 0).toBe(true);
      }
    }
  });
});
