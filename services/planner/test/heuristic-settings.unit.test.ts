/** HeuristicAnalyzer: analysis with its settings, their validation, and reading them from the environment. */
import { describe, expect, it } from 'vitest';
import { invalidConfig } from '@tickwise/platform';
import { HeuristicAnalyzer, HEURISTIC_DEFAULTS, heuristicSettingsFromEnv } from '../src/analysis/index.ts';
import { SECOND, MINUTE, spec10s, ok, fail, picture } from './support/heuristic.ts';

describe('HeuristicAnalyzer', () => {
  it('analyzes with its settings', async () => {
    const analyzer = new HeuristicAnalyzer({ failureStreak: 2 });
    expect(analyzer.name).toBe('heuristic');
    const decision = await analyzer.analyze(picture(spec10s, [ok(), fail(), fail()]));
    expect(decision.proposals).toEqual([{ kind: 'interval', intervalMs: 40 * SECOND, ttlMs: 10 * MINUTE, reason: expect.any(String) }]);
  });

  it.each([
    [{ failureStreak: 0 }, 'failureStreak must be an integer between 1 and 1000, got 0'],
    [{ recoverySuccesses: 1.5 }, 'recoverySuccesses must be an integer between 1 and 1000, got 1.5'],
    [{ slowSamples: 2 }, 'slowSamples must be an integer between 3 and 50, got 2'],
    [{ slowSamples: 8, slowWindow: 6 }, 'slowWindow (6) must be at least slowSamples (8)'],
  ])('refuses %o', (settings, message) => {
    expect(() => new HeuristicAnalyzer(settings)).toThrow(invalidConfig(message));
  });

  it('reads its settings from the environment', () => {
    expect(heuristicSettingsFromEnv({})).toEqual(HEURISTIC_DEFAULTS);
    expect(
      heuristicSettingsFromEnv({ TICKWISE_PLANNER_FAILURE_STREAK: '4', TICKWISE_PLANNER_RECOVERY_SUCCESSES: '2', TICKWISE_PLANNER_SLOW_SAMPLES: '6', TICKWISE_PLANNER_SLOW_WINDOW: '20' }),
    ).toEqual({ failureStreak: 4, recoverySuccesses: 2, slowSamples: 6, slowWindow: 20 });
    expect(() => heuristicSettingsFromEnv({ TICKWISE_PLANNER_SLOW_WINDOW: 'ten' })).toThrow(invalidConfig('TICKWISE_PLANNER_SLOW_WINDOW must be a whole number, got "ten"'));
    expect(() => heuristicSettingsFromEnv({ TICKWISE_PLANNER_SLOW_WINDOW: '99' })).toThrow(
      invalidConfig('TICKWISE_PLANNER_SLOW_WINDOW: slowWindow must be an integer between 3 and 50, got 99'),
    );
  });
});
