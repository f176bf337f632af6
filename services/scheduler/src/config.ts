import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { formatDuration, parseDuration } from '@tickwise/machines';
import { DEFAULT_SIGNING_REFRESH_MS } from './signing.ts';
import { DEFAULT_TARGET_POLICY, TargetPolicyError, targetPolicyFromEnv, type TargetPolicy } from './target-policy.ts';

export interface SchedulerConfig {
  /** Names this node in leases, runs and logs. */
  workerId: string;
  /** How long a claim holds before peers may take the machine over. */
  leaseMs: number;
  /** How far ahead of a slot the node claims it (it still dispatches exactly on time). */
  claimAheadMs: number;
  /** Most machines claimed in one statement. */
  claimBatch: number;
  /** Most machines a node holds at once (waiting or running). */
  maxInFlight: number;
  /** Longest sleep without a wake-up: the polling interval where LISTEN is missing. */
  pollIntervalMs: number;
  /** A claimed slot later than this counts as missed (catchUp: skip drops it). */
  catchUpGraceMs: number;
  /** On shutdown, how long runs in flight may finish before they are aborted. */
  shutdownGraceMs: number;
  /** Runs older than this are pruned. */
  runRetentionMs: number;
  /** Whether this node prunes (one pruning node is enough). */
  prune: boolean;
  /**
   * How often the node looks for free machines whose hints changed since their plan. The only path
   * where LISTEN is missing (YugabyteDB before 2025.2.3), the safety net elsewhere.
   */
  hintPollMs: number;
  /**
   * Whether the node LISTENs for wake-ups and hints. Off: it polls only (behind a pooler in
   * transaction mode, where LISTEN is accepted but never delivers).
   */
  listen: boolean;
  /** Which hosts calls may reach (TICKWISE_ALLOW_TARGETS, TICKWISE_DENY_TARGETS; cloud metadata always denied). */
  targetPolicy: TargetPolicy;
  /** How often signing secrets are reloaded: a new, rotated or revoked secret applies within it. */
  signingRefreshMs: number;
}

export const SCHEDULER_DEFAULTS: Omit<SchedulerConfig, 'workerId'> = {
  leaseMs: 30_000,
  claimAheadMs: 200,
  claimBatch: 200,
  maxInFlight: 2_000,
  pollIntervalMs: 1_000,
  catchUpGraceMs: 10_000,
  shutdownGraceMs: 10_000,
  runRetentionMs: 7 * 86_400_000,
  prune: true,
  hintPollMs: 1_000,
  listen: true,
  targetPolicy: DEFAULT_TARGET_POLICY,
  signingRefreshMs: DEFAULT_SIGNING_REFRESH_MS,
};

/** Environment variables of a scheduler node, with the config field each sets. */
export const SCHEDULER_ENV = {
  TICKWISE_WORKER_ID: 'workerId',
  TICKWISE_LEASE: 'leaseMs',
  TICKWISE_CLAIM_AHEAD: 'claimAheadMs',
  TICKWISE_CLAIM_BATCH: 'claimBatch',
  TICKWISE_MAX_IN_FLIGHT: 'maxInFlight',
  TICKWISE_POLL_INTERVAL: 'pollIntervalMs',
  TICKWISE_CATCH_UP_GRACE: 'catchUpGraceMs',
  TICKWISE_SHUTDOWN_GRACE: 'shutdownGraceMs',
  TICKWISE_RUN_RETENTION: 'runRetentionMs',
  TICKWISE_PRUNE: 'prune',
  TICKWISE_HINT_POLL: 'hintPollMs',
  TICKWISE_LISTEN: 'listen',
  TICKWISE_SIGNING_REFRESH: 'signingRefreshMs',
} as const;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export function defaultWorkerId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(2).toString('hex')}`;
}

/** Validates a config once, with messages that name the setting. */
export function resolveSchedulerConfig(overrides: Partial<SchedulerConfig> = {}): SchedulerConfig {
  const config: SchedulerConfig = { workerId: defaultWorkerId(), ...SCHEDULER_DEFAULTS, ...overrides };
  const rules: [keyof SchedulerConfig, number, number][] = [
    ['leaseMs', 500, 3_600_000],
    ['claimAheadMs', 0, 60_000],
    ['claimBatch', 1, 10_000],
    ['maxInFlight', 1, 100_000],
    ['pollIntervalMs', 10, 60_000],
    ['catchUpGraceMs', 0, 365 * 86_400_000],
    ['shutdownGraceMs', 0, 600_000],
    ['runRetentionMs', 60_000, 3_650 * 86_400_000],
    ['hintPollMs', 10, 600_000],
    ['signingRefreshMs', 100, 600_000],
  ];
  for (const [key, min, max] of rules) {
    const value = config[key] as number;
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new ConfigError(`${key} must be an integer between ${min} and ${max}, got ${String(value)}`);
    }
  }
  for (const key of ['prune', 'listen'] as const) {
    if (typeof config[key] !== 'boolean') throw new ConfigError(`${key} must be true or false, got ${String(config[key])}`);
  }
  if (config.claimAheadMs * 2 >= config.leaseMs) {
    throw new ConfigError(`claimAheadMs (${config.claimAheadMs}) must be less than half of leaseMs (${config.leaseMs})`);
  }
  if (!/^[A-Za-z0-9._:-]{1,100}$/.test(config.workerId)) {
    throw new ConfigError(`workerId must be 1-100 letters, digits, ".", "_", ":" or "-", got "${config.workerId}"`);
  }
  return config;
}

/** Reads the TICKWISE_* variables of a scheduler node; durations are strings such as `30s`. */
export function schedulerConfigFromEnv(env: NodeJS.ProcessEnv): SchedulerConfig {
  const overrides: Partial<SchedulerConfig> = {};
  for (const [name, key] of Object.entries(SCHEDULER_ENV) as [keyof typeof SCHEDULER_ENV, (typeof SCHEDULER_ENV)[keyof typeof SCHEDULER_ENV]][]) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    if (key === 'workerId') overrides.workerId = raw;
    else if (key === 'prune' || key === 'listen') {
      if (raw !== 'true' && raw !== 'false') throw new ConfigError(`${name} must be true or false, got "${raw}"`);
      overrides[key] = raw === 'true';
    } else if (key === 'claimBatch' || key === 'maxInFlight') {
      if (!/^\d+$/.test(raw)) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
      overrides[key] = Number(raw);
    } else {
      const ms = parseDuration(raw);
      if (ms === undefined) throw new ConfigError(`${name} must be a duration such as 500ms, 30s or 5m, got "${raw}"`);
      overrides[key] = ms;
    }
  }
  try {
    overrides.targetPolicy = targetPolicyFromEnv(env);
  } catch (error) {
    throw error instanceof TargetPolicyError ? new ConfigError(error.message) : error;
  }
  try {
    return resolveSchedulerConfig(overrides);
  } catch (error) {
    const key = (error as Error).message.split(' ')[0] as keyof SchedulerConfig;
    const name = Object.entries(SCHEDULER_ENV).find(([, field]) => field === key)?.[0];
    throw name ? new ConfigError(`${name}: ${(error as Error).message}`) : error;
  }
}

export function describeConfig(config: SchedulerConfig): string {
  return `lease ${formatDuration(config.leaseMs)}, claim ahead ${formatDuration(config.claimAheadMs)}, batch ${config.claimBatch}, max in flight ${config.maxInFlight}, hint poll ${formatDuration(config.hintPollMs)}${config.listen ? '' : ', LISTEN off'}`;
}
