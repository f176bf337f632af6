import { describe, expect, it } from 'vitest';
import { KAFKA_SOURCE_DEFAULTS } from '@tickwise/planner';
import { TickwiseError } from '@tickwise/platform';
import { ANALYTICS_DEFAULTS, analyticsConfigFromEnv } from '../src/index.ts';

function settingsError(env: NodeJS.ProcessEnv): TickwiseError {
  try {
    analyticsConfigFromEnv(env);
  } catch (error) {
    if (error instanceof TickwiseError) return error;
    throw error;
  }
  throw new Error('expected a TickwiseError');
}

describe('analyticsConfigFromEnv', () => {
  it('takes the defaults: the planner\'s topic, its own group, a 15 min window of at most 1000 runs, 100 series', () => {
    expect(analyticsConfigFromEnv({ KAFKA_BROKERS: 'a:9092, b:9093' })).toEqual({
      brokers: ['a:9092', 'b:9093'],
      topic: 'tickwise.run-events',
      groupId: 'tickwise-analytics',
      clientId: 'tickwise-analytics',
      windowMs: 900_000,
      windowRuns: 1_000,
      maxSeries: 100,
      connectRetries: 5,
    });
    // One topic setting for both consumers, and never the planner's group.
    expect(ANALYTICS_DEFAULTS.topic).toBe(KAFKA_SOURCE_DEFAULTS.topic);
    expect(ANALYTICS_DEFAULTS.groupId).not.toBe(KAFKA_SOURCE_DEFAULTS.groupId);
  });

  it('reads every setting, and ignores the planner\'s KAFKA_GROUP_ID', () => {
    expect(analyticsConfigFromEnv({
      KAFKA_BROKERS: 'kafka:9092',
      KAFKA_TOPIC: 'runs.v1',
      KAFKA_GROUP_ID: 'tickwise-planner',
      TICKWISE_ANALYTICS_GROUP_ID: 'team-sre',
      TICKWISE_ANALYTICS_WINDOW: '1h',
      TICKWISE_ANALYTICS_WINDOW_RUNS: '500',
      TICKWISE_ANALYTICS_MAX_SERIES: '0',
    })).toMatchObject({ topic: 'runs.v1', groupId: 'team-sre', windowMs: 3_600_000, windowRuns: 500, maxSeries: 0 });
  });

  it.each<[NodeJS.ProcessEnv, string]>([
    [{}, 'KAFKA_BROKERS is not set: "tickwise analytics" reads the run-event topic from Kafka (host:port[,host:port...])'],
    [{ KAFKA_BROKERS: 'kafka' }, 'KAFKA_BROKERS: "kafka" is not host:port (port 1 to 65535)'],
    [{ KAFKA_BROKERS: 'kafka:0' }, 'KAFKA_BROKERS: "kafka:0" is not host:port (port 1 to 65535)'],
    [{ KAFKA_BROKERS: 'k:9092', KAFKA_TOPIC: 'run events' }, 'KAFKA_TOPIC must be 1 to 249 letters, digits, ".", "_" or "-" (not "." or ".."), got "run events"'],
    [{ KAFKA_BROKERS: 'k:9092', TICKWISE_ANALYTICS_GROUP_ID: 'my group' }, 'TICKWISE_ANALYTICS_GROUP_ID must be 1 to 255 characters without whitespace, got "my group"'],
    [{ KAFKA_BROKERS: 'k:9092', TICKWISE_ANALYTICS_WINDOW: '15 minutes' }, 'TICKWISE_ANALYTICS_WINDOW must be a duration such as 15m or 1h, got "15 minutes"'],
    [{ KAFKA_BROKERS: 'k:9092', TICKWISE_ANALYTICS_WINDOW: '30s' }, 'TICKWISE_ANALYTICS_WINDOW must be from 1m to 24h, got 30000 ms'],
    [{ KAFKA_BROKERS: 'k:9092', TICKWISE_ANALYTICS_WINDOW_RUNS: '5' }, 'TICKWISE_ANALYTICS_WINDOW_RUNS must be a whole number from 10 to 100000, got "5"'],
    [{ KAFKA_BROKERS: 'k:9092', TICKWISE_ANALYTICS_MAX_SERIES: '-1' }, 'TICKWISE_ANALYTICS_MAX_SERIES must be a whole number from 0 to 10000, got "-1"'],
    [{ KAFKA_BROKERS: 'k:9092', TICKWISE_ANALYTICS_MAX_SERIES: '1e3' }, 'TICKWISE_ANALYTICS_MAX_SERIES must be a whole number from 0 to 10000, got "1e3"'],
  ])('refuses %j with an exact message', (env, message) => {
    const error = settingsError(env);
    expect(error.code).toBe('invalid_config');
    expect(error.reason).toBe('invalid_settings');
    expect(error.message).toBe(message);
  });
});
