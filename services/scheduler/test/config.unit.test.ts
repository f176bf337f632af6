import { describe, expect, it } from 'vitest';
import { DEFAULT_TARGET_POLICY, parseSecretsKey, parseTargetPolicy } from '@tickwise/platform';
import { describeConfig, resolveSchedulerConfig, SCHEDULER_DEFAULTS, schedulerConfigFromEnv } from '@tickwise/scheduler';

const KEY = Buffer.alloc(32, 7).toString('base64');

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
      TICKWISE_HINT_POLL: '250ms',
      TICKWISE_LISTEN: 'false',
      TICKWISE_SIGNING_REFRESH: '2s',
      TICKWISE_SECRETS_REFRESH: '3s',
      TICKWISE_SECRETS_KEY: KEY,
      TICKWISE_DENY_TARGETS: '127.0.0.0/8, ::1',
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
      hintPollMs: 250,
      listen: false,
      targetPolicy: parseTargetPolicy({ deny: '127.0.0.0/8, ::1' }),
      signingRefreshMs: 2_000,
      secretsRefreshMs: 3_000,
      secretsKeys: { current: expect.objectContaining({ id: parseSecretsKey(KEY, 'k').id }), previous: null },
    });
    expect(schedulerConfigFromEnv({}).secretsKeys).toEqual({ current: null, previous: null });
    expect(schedulerConfigFromEnv({}).targetPolicy).toBe(DEFAULT_TARGET_POLICY);
  });

  it.each([
    [{ TICKWISE_LEASE: 'soon' }, 'TICKWISE_LEASE must be a duration such as 500ms, 30s or 5m, got "soon"'],
    [{ TICKWISE_LEASE: '100ms' }, 'TICKWISE_LEASE: leaseMs must be an integer between 500 and 3600000, got 100'],
    [{ TICKWISE_CLAIM_BATCH: '-1' }, 'TICKWISE_CLAIM_BATCH must be a whole number, got "-1"'],
    [{ TICKWISE_MAX_IN_FLIGHT: '0' }, 'TICKWISE_MAX_IN_FLIGHT: maxInFlight must be an integer between 1 and 100000, got 0'],
    [{ TICKWISE_PRUNE: 'yes' }, 'TICKWISE_PRUNE must be true or false, got "yes"'],
    [{ TICKWISE_HINT_POLL: 'often' }, 'TICKWISE_HINT_POLL must be a duration such as 500ms, 30s or 5m, got "often"'],
    [{ TICKWISE_HINT_POLL: '5ms' }, 'TICKWISE_HINT_POLL: hintPollMs must be an integer between 10 and 600000, got 5'],
    [{ TICKWISE_HINT_POLL: '1h' }, 'TICKWISE_HINT_POLL: hintPollMs must be an integer between 10 and 600000, got 3600000'],
    [{ TICKWISE_LISTEN: 'no' }, 'TICKWISE_LISTEN must be true or false, got "no"'],
    [{ TICKWISE_SIGNING_REFRESH: '10ms' }, 'TICKWISE_SIGNING_REFRESH: signingRefreshMs must be an integer between 100 and 600000, got 10'],
    [{ TICKWISE_SECRETS_REFRESH: '1h' }, 'TICKWISE_SECRETS_REFRESH: secretsRefreshMs must be an integer between 100 and 600000, got 3600000'],
    [{ TICKWISE_SECRETS_KEY: 'c2hvcnQ=' }, 'TICKWISE_SECRETS_KEY must be the base64 of 32 bytes, it holds 5 (make one with: openssl rand -base64 32)'],
    [{ TICKWISE_DENY_TARGETS: '10.0.0.1/8' }, 'TICKWISE_DENY_TARGETS: entry "10.0.0.1/8" has bits set past its /8 prefix (did you mean 10.0.0.0/8?)'],
    [{ TICKWISE_ALLOW_TARGETS: 'https://hooks.example.com' }, 'TICKWISE_ALLOW_TARGETS: entry "https://hooks.example.com" is a URL; give a host name, an IP address or a CIDR'],
    [{ TICKWISE_WORKER_ID: 'has space' }, 'TICKWISE_WORKER_ID: workerId must be 1-100 letters, digits, ".", "_", ":" or "-", got "has space"'],
  ])('refuses %o with a message naming the variable', (env, message) => {
    expect(() => schedulerConfigFromEnv(env)).toThrow(expect.objectContaining({ code: 'invalid_config', message }));
  });

  it('polls for hints every second and listens unless told otherwise', () => {
    expect(SCHEDULER_DEFAULTS).toMatchObject({ hintPollMs: 1_000, listen: true });
    expect(describeConfig(resolveSchedulerConfig({ workerId: 'n' }))).toBe('lease 30s, claim ahead 200ms, batch 200, max in flight 2000, hint poll 1s');
    expect(describeConfig(resolveSchedulerConfig({ workerId: 'n', listen: false, hintPollMs: 250 }))).toMatch(/hint poll 250ms, LISTEN off$/);
  });

  it('refuses a listen flag that is not a boolean (a caller in JavaScript)', () => {
    expect(() => resolveSchedulerConfig({ listen: 'yes' as unknown as boolean })).toThrow(expect.objectContaining({ code: 'invalid_config', message: 'listen must be true or false, got yes' }));
  });

  it('refuses a claim-ahead that would eat half the lease', () => {
    expect(() => resolveSchedulerConfig({ leaseMs: 1_000, claimAheadMs: 600 })).toThrow('claimAheadMs (600) must be less than half of leaseMs (1000)');
  });
});
