import type { Pool } from '@tickwise/db';
import { invalidConfig, silentLogger } from '@tickwise/platform';
import { describe, expect, it } from 'vitest';
import { PLANNER_DEFAULTS, PLANNER_ENV, plannerConfigFromEnv, resolvePlannerConfig } from '../src/config.ts';
import { sourceFromEnv } from '../src/service.ts';

describe('planner settings', () => {
  it('has defaults and a planner id of the host and process', () => {
    const config = plannerConfigFromEnv({});
    expect(config).toMatchObject(PLANNER_DEFAULTS);
    expect(config.plannerId).toMatch(/^[A-Za-z0-9._:-]+-\d+-[0-9a-f]{4}$/);
    expect(resolvePlannerConfig().plannerId).not.toBe(config.plannerId);
  });

  it('reads every variable: durations as durations, counts as whole numbers', () => {
    const env = {
      TICKWISE_PLANNER_ID: 'planner-1',
      TICKWISE_PLANNER_MIN_INTERVAL: '1m30s',
      TICKWISE_PLANNER_URGENT_FLOOR: '250ms',
      TICKWISE_PLANNER_FAILURE_STREAK: '5',
      TICKWISE_PLANNER_WINDOW: '100',
      TICKWISE_PLANNER_CONCURRENCY: '16',
      TICKWISE_PLANNER_POLL: '2s',
      TICKWISE_EVENT_RETENTION: '30d',
    };
    expect(Object.keys(env).sort()).toEqual(Object.keys(PLANNER_ENV).sort());
    expect(plannerConfigFromEnv(env)).toEqual({
      plannerId: 'planner-1',
      minIntervalMs: 90_000,
      urgentFloorMs: 250,
      failureStreak: 5,
      window: 100,
      concurrency: 16,
      pollIntervalMs: 2_000,
      eventRetentionMs: 30 * 86_400_000,
    });
  });

  it('treats an empty variable as unset', () => {
    expect(plannerConfigFromEnv({ TICKWISE_PLANNER_WINDOW: '', TICKWISE_PLANNER_POLL: '' })).toMatchObject({ window: 50, pollIntervalMs: 1_000 });
  });

  it('accepts the ends of every range', () => {
    expect(
      plannerConfigFromEnv({
        TICKWISE_PLANNER_MIN_INTERVAL: '0ms',
        TICKWISE_PLANNER_URGENT_FLOOR: '1h',
        TICKWISE_PLANNER_FAILURE_STREAK: '1',
        TICKWISE_PLANNER_WINDOW: '5',
        TICKWISE_PLANNER_CONCURRENCY: '256',
        TICKWISE_PLANNER_POLL: '10ms',
        TICKWISE_EVENT_RETENTION: '1m',
      }),
    ).toMatchObject({ minIntervalMs: 0, urgentFloorMs: 3_600_000, failureStreak: 1, window: 5, concurrency: 256, pollIntervalMs: 10, eventRetentionMs: 60_000 });
  });

  it.each([
    [{ TICKWISE_PLANNER_MIN_INTERVAL: 'soon' }, 'TICKWISE_PLANNER_MIN_INTERVAL must be a duration such as 500ms, 30s or 5m, got "soon"'],
    [{ TICKWISE_PLANNER_MIN_INTERVAL: '30' }, 'TICKWISE_PLANNER_MIN_INTERVAL must be a duration such as 500ms, 30s or 5m, got "30"'],
    [{ TICKWISE_PLANNER_MIN_INTERVAL: '2d' }, 'TICKWISE_PLANNER_MIN_INTERVAL: minIntervalMs must be an integer between 0 and 86400000, got 172800000'],
    [{ TICKWISE_PLANNER_URGENT_FLOOR: '2h' }, 'TICKWISE_PLANNER_URGENT_FLOOR: urgentFloorMs must be an integer between 0 and 3600000, got 7200000'],
    [{ TICKWISE_PLANNER_FAILURE_STREAK: '0' }, 'TICKWISE_PLANNER_FAILURE_STREAK: failureStreak must be an integer between 1 and 1000, got 0'],
    [{ TICKWISE_PLANNER_FAILURE_STREAK: '-1' }, 'TICKWISE_PLANNER_FAILURE_STREAK must be a whole number, got "-1"'],
    [{ TICKWISE_PLANNER_FAILURE_STREAK: '2.5' }, 'TICKWISE_PLANNER_FAILURE_STREAK must be a whole number, got "2.5"'],
    [{ TICKWISE_PLANNER_WINDOW: '4' }, 'TICKWISE_PLANNER_WINDOW: window must be an integer between 5 and 1000, got 4'],
    [{ TICKWISE_PLANNER_WINDOW: 'many' }, 'TICKWISE_PLANNER_WINDOW must be a whole number, got "many"'],
    [{ TICKWISE_PLANNER_CONCURRENCY: '257' }, 'TICKWISE_PLANNER_CONCURRENCY: concurrency must be an integer between 1 and 256, got 257'],
    [{ TICKWISE_PLANNER_POLL: '5ms' }, 'TICKWISE_PLANNER_POLL: pollIntervalMs must be an integer between 10 and 60000, got 5'],
    [{ TICKWISE_PLANNER_POLL: '0.5ms' }, 'TICKWISE_PLANNER_POLL: pollIntervalMs must be an integer between 10 and 60000, got 1'],
    [{ TICKWISE_EVENT_RETENTION: '59s' }, 'TICKWISE_EVENT_RETENTION: eventRetentionMs must be an integer between 60000 and 315360000000, got 59000'],
    [{ TICKWISE_PLANNER_ID: 'has space' }, 'TICKWISE_PLANNER_ID: plannerId must be 1-100 letters, digits, ".", "_", ":" or "-", got "has space"'],
    [{ TICKWISE_PLANNER_ID: 'x'.repeat(101) }, `TICKWISE_PLANNER_ID: plannerId must be 1-100 letters, digits, ".", "_", ":" or "-", got "${'x'.repeat(101)}"`],
  ])('refuses %o with a message naming the variable', (env, message) => {
    expect(() => plannerConfigFromEnv(env)).toThrow(invalidConfig(message));
  });

  it.each([
    [{ minIntervalMs: -1 }, 'minIntervalMs must be an integer between 0 and 86400000, got -1'],
    [{ urgentFloorMs: 1.5 }, 'urgentFloorMs must be an integer between 0 and 3600000, got 1.5'],
    [{ concurrency: Number.NaN }, 'concurrency must be an integer between 1 and 256, got NaN'],
    [{ plannerId: '' }, 'plannerId must be 1-100 letters, digits, ".", "_", ":" or "-", got ""'],
  ])('refuses the override %o', (overrides, message) => {
    expect(() => resolvePlannerConfig(overrides)).toThrow(invalidConfig(message));
  });
});

describe('the run-event source the environment asks for', () => {
  // Neither source connects before start(): no database or broker is needed here.
  const source = (env: NodeJS.ProcessEnv) => sourceFromEnv({ pool: {} as Pool, connectionString: 'postgres://unused', env, log: silentLogger }, resolvePlannerConfig());

  it('reads the outbox without KAFKA_BROKERS (empty is unset), Kafka with it', () => {
    expect(source({}).name).toBe('database');
    expect(source({ KAFKA_BROKERS: '' }).name).toBe('database');
    expect(source({ KAFKA_BROKERS: 'kafka:9092', KAFKA_TOPIC: '' }).name).toBe('kafka');
  });

  it('names the Kafka variables in front of the source\'s message', () => {
    expect(() => source({ KAFKA_BROKERS: 'kafka' })).toThrow(
      invalidConfig('KAFKA_BROKERS, KAFKA_TOPIC, KAFKA_GROUP_ID, KAFKA_CLIENT_ID: kafka source: brokers: "kafka" is not host:port (port 1 to 65535)', 'invalid_options'),
    );
  });
});
