/** planNextRun invariants over a grid of specs, previous slots, hints and failure counts. */
import { describe, it, expect } from 'vitest';
import { planNextRun, type EndpointSpec, type Hint } from '@tickwise/machines';
import { SECOND, MINUTE, HOUR, at, iso, everySpec, cronSpec, hint } from './governor-support.ts';

describe('invariants', () => {
  const now = iso('2026-03-29T01:10:00Z'); // during the Paris spring-forward morning
  const specs: EndpointSpec[] = [
    everySpec(30 * SECOND),
    everySpec(MINUTE, { catchUp: 'once', jitter: 0.5 }),
    everySpec(10 * SECOND, { minIntervalMs: 5 * SECOND, maxIntervalMs: 2 * MINUTE, jitter: 0.2 }),
    cronSpec('0 */2 * * *'),
    cronSpec('30 2 * * *', 'Europe/Paris', { catchUp: 'once' }),
    cronSpec('0 9 * * *', 'America/New_York', { maxIntervalMs: 2 * HOUR, jitter: 1 }),
  ];
  const previousSlots = [null, now, at(-1, now), at(-7 * SECOND, now), at(-3 * MINUTE, now), at(-2 * HOUR, now), at(-3 * 24 * HOUR, now)];
  const hintSets: Hint[][] = [
    [],
    [hint('interval', { intervalMs: SECOND, expiresAt: at(HOUR, now) })],
    [hint('run_at', { at: at(-MINUTE, now), expiresAt: at(HOUR, now) })],
    [hint('run_at', { at: at(3 * SECOND, now), expiresAt: at(HOUR, now) })],
    [hint('pause_until', { at: at(HOUR, now), expiresAt: at(2 * HOUR, now) })],
    [hint('interval', { intervalMs: HOUR, expiresAt: at(-1, now) })],
  ];
  const cases: { spec: EndpointSpec; previousSlot: Date | null; hints: Hint[]; consecutiveFailures: number }[] = [];
  for (const spec of specs) {
    for (const previousSlot of previousSlots) {
      for (const hints of hintSets) {
        for (const consecutiveFailures of [0, 7]) cases.push({ spec, previousSlot, hints, consecutiveFailures });
      }
    }
  }

  it('never plans a run in the past, nor a pause that has already ended', () => {
    for (const c of cases) {
      for (const r of [0, 0.999]) {
        const result = planNextRun({ ...c, now, random: () => r });
        if (result.kind === 'run') {
          expect(result.at.getTime(), JSON.stringify({ c, r, result })).toBeGreaterThanOrEqual(now.getTime());
        } else {
          expect(result.until === null || result.until > now, JSON.stringify({ c, r, result })).toBe(true);
        }
      }
    }
  });

  it('gives a non-empty reason that names the source', () => {
    const patterns: Record<string, RegExp> = {
      baseline: /^baseline /,
      first_run: /^first run of /,
      backoff: /^backoff after \d+ consecutive failures?: /,
      catch_up: /^catch-up: /,
      hint_interval: /^hint \(planner\): every /,
      hint_run_at: /^hint \(planner\): run once at /,
      hint_pause: /^hint \(planner\): pause until /,
      user: /^paused by a person: /,
    };
    const seen = new Set<string>();
    for (const c of cases) {
      const result = planNextRun({ ...c, now, random: () => 0.5 });
      seen.add(result.source);
      expect(result.reason.trim().length).toBeGreaterThan(0);
      expect(result.reason).toMatch(patterns[result.source]!);
    }
    const paused = planNextRun({ ...cases[0]!, now, userPause: { reason: 'r', until: null }, random: () => 0 });
    seen.add(paused.source);
    expect(paused.reason).toMatch(patterns.user!);
    expect([...seen].sort()).toEqual(Object.keys(patterns).sort());
  });

  it('is pure: the same input gives the same plan', () => {
    for (const c of cases.slice(0, 50)) {
      expect(planNextRun({ ...c, now, random: () => 0.3 })).toEqual(planNextRun({ ...c, now, random: () => 0.3 }));
    }
  });
});
