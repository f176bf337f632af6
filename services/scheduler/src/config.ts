import { checkBoolean, checkInteger, checkProcessId, DEFAULT_TARGET_POLICY, defaultProcessId, formatDuration, invalidConfig, namingVariables, NO_SECRETS_KEYS, overridesFromEnv, secretsKeyringFromEnv, targetPolicyFromEnv, type SecretsKeyring, type TargetPolicy } from '@tickwise/platform';
import { DEFAULT_SECRETS_REFRESH_MS } from './secret-values.ts';
import { DEFAULT_SIGNING_REFRESH_MS } from './signing.ts';

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
  /** The keys secrets are decrypted with (TICKWISE_SECRETS_KEY, TICKWISE_SECRETS_OLD_KEY); never printed. */
  secretsKeys: SecretsKeyring;
  /** How often secrets are reloaded: a set or deleted secret applies within it. */
  secretsRefreshMs: number;
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
  secretsKeys: NO_SECRETS_KEYS,
  secretsRefreshMs: DEFAULT_SECRETS_REFRESH_MS,
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
  TICKWISE_SECRETS_REFRESH: 'secretsRefreshMs',
} as const;

/** Validates a config once, with messages that name the setting. Throws `invalid_config`. */
export function resolveSchedulerConfig(overrides: Partial<SchedulerConfig> = {}): SchedulerConfig {
  const config: SchedulerConfig = { workerId: defaultProcessId(), ...SCHEDULER_DEFAULTS, ...overrides };
  checkInteger('leaseMs', config.leaseMs, 500, 3_600_000);
  checkInteger('claimAheadMs', config.claimAheadMs, 0, 60_000);
  checkInteger('claimBatch', config.claimBatch, 1, 10_000);
  checkInteger('maxInFlight', config.maxInFlight, 1, 100_000);
  checkInteger('pollIntervalMs', config.pollIntervalMs, 10, 60_000);
  checkInteger('catchUpGraceMs', config.catchUpGraceMs, 0, 365 * 86_400_000);
  checkInteger('shutdownGraceMs', config.shutdownGraceMs, 0, 600_000);
  checkInteger('runRetentionMs', config.runRetentionMs, 60_000, 3_650 * 86_400_000);
  checkInteger('hintPollMs', config.hintPollMs, 10, 600_000);
  checkInteger('signingRefreshMs', config.signingRefreshMs, 100, 600_000);
  checkInteger('secretsRefreshMs', config.secretsRefreshMs, 100, 600_000);
  checkBoolean('prune', config.prune);
  checkBoolean('listen', config.listen);
  if (config.claimAheadMs * 2 >= config.leaseMs) {
    throw invalidConfig(`claimAheadMs (${config.claimAheadMs}) must be less than half of leaseMs (${config.leaseMs})`);
  }
  checkProcessId('workerId', config.workerId);
  return config;
}

/** Reads the TICKWISE_* variables of a scheduler node; durations are strings such as `30s`. */
export function schedulerConfigFromEnv(env: NodeJS.ProcessEnv): SchedulerConfig {
  const overrides = overridesFromEnv(env, SCHEDULER_ENV, { workerId: 'text', prune: 'flag', listen: 'flag', claimBatch: 'count', maxInFlight: 'count' }) as Partial<SchedulerConfig>;
  overrides.targetPolicy = targetPolicyFromEnv(env);
  overrides.secretsKeys = secretsKeyringFromEnv(env);
  return namingVariables(SCHEDULER_ENV, () => resolveSchedulerConfig(overrides));
}

export function describeConfig(config: SchedulerConfig): string {
  return `lease ${formatDuration(config.leaseMs)}, claim ahead ${formatDuration(config.claimAheadMs)}, batch ${config.claimBatch}, max in flight ${config.maxInFlight}, hint poll ${formatDuration(config.hintPollMs)}${config.listen ? '' : ', LISTEN off'}`;
}
