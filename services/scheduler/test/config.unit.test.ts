import { describe, expect, it } from 'vitest';
import { ConfigError, resolveSchedulerConfig, SCHEDULER_DEFAULTS, schedulerConfigFromEnv } from '@tickwise/scheduler';

describe('scheduler settings', () => {
  it('has defaults and reads durations, counts and flags from the environment', () => {
    expect(schedulerConfigFromEnv({})).toMatchObject(SCHEDULER_DEFAULTS);
    const config = schedulerConfigFromEnv({
      TICKWISE_WORKER_ID: 'node-1',
      TICKWISE_LEASE: '10s',
      TICKWISE_CLAIM_AHEAD: '100ms',
      TICKWISE_CLAIM_BATCH: '50',
      TICKWISE_MAX_IN_FLIGHT: '500',
      TICKWISE_POLL_INTERVAL: '250ms',
      TICKWISE_CATCH_UP_GRACE: '1m',
      TICKWISE_SHUTDOWN_GRACE: '5s',
      TICKWISE_RUN_RETENTION: '30d',
      TICKWISE_PRUNE: 'false',
    });
    expect(config).toEqual({
      workerId: 'node-1',
      leaseMs: 10_000,
      claimAheadMs: 100,
      claimBatch: 50,
      maxInFlight: 500,
      pollIntervalMs: 250,
      catchUpGraceMs: 60_000,
      shutdownGraceMs: 5_000,
      runRetentionMs: 30 * 86_400_000,
      prune: false,
    });
  });

  it.each([
    [{ TICKWISE_LEASE: 'soon' }, 'TICKWISE_LEASE must be a duration such as 500ms, 30s or 5m, got "soon"'],
    [{ TICKWISE_LEASE: '100ms' }, 'TICKWISE_LEASE: leaseMs must be an integer between 500 and 3600000, got 100'],
    [{ TICKWISE_CLAIM_BATCH: '-1' }, 'TICKWISE_CLAIM_BATCH must be a whole number, got "-1"'],
    [{ TICKWISE_MAX_IN_FLIGHT: '0' }, 'TICKWISE_MAX_IN_FLIGHT: maxInFlight must be an integer between 1 and 100000, got 0'],
    [{ TICKWISE_PRUNE: 'yes' }, 'TICKWISE_PRUNE must be true or false, got "yes"'],
    [{ TICKWISE_WORKER_ID: 'has space' }, 'TICKWISE_WORKER_ID: workerId must be 1-100 letters, digits, ".", "_", ":" or "-", got "has space"'],
  ])('refuses %o with a message naming the variable', (env, message) => {
    expect(() => schedulerConfigFromEnv(env)).toThrow(new ConfigError(message));
  });

  it('refuses a claim-ahead that would eat half the lease', () => {
    expect(() => resolveSchedulerConfig({ leaseMs: 1_000, claimAheadMs: 600 })).toThrow('claimAheadMs (600) must be less than half of leaseMs (1000)');
  });
});
