import { checkInteger, DEFAULT_TARGET_POLICY, envDuration, envPort, envText, invalidConfig, NO_SECRETS_KEYS, secretsKeyringFromEnv, targetPolicyFromEnv, type SecretsKeyring, type TargetPolicy } from '@tickwise/platform';

export interface GatewayConfig {
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  /** Longest time a watch goes without looking at the database (LISTEN wakes it sooner). */
  watchPollIntervalMs: number;
  /** Shortest time between two looks, however many notifications arrive. */
  watchMinIntervalMs: number;
  /** A heartbeat is sent on a watch after this long without events. */
  heartbeatMs: number;
  /** Watches open at once in this process, and per tenant. */
  maxWatchers: number;
  maxWatchersPerTenant: number;
  /** Events buffered for a watcher that reads slowly; past that its watch ends (RESOURCE_EXHAUSTED). */
  watchBufferSize: number;
  /** Largest request body accepted. */
  readMaxBytes: number;
  /** Endpoint URLs are checked against it when written (TICKWISE_ALLOW_TARGETS / TICKWISE_DENY_TARGETS). */
  targetPolicy: TargetPolicy;
  /** The key SetSecret encrypts with (TICKWISE_SECRETS_KEY); without one, SetSecret is refused. Never printed. */
  secretsKeys: SecretsKeyring;
}

export const DEFAULT_GATEWAY_CONFIG: GatewayConfig = {
  host: '0.0.0.0',
  port: 8080,
  watchPollIntervalMs: 1_000,
  watchMinIntervalMs: 250,
  heartbeatMs: 15_000,
  maxWatchers: 1_000,
  maxWatchersPerTenant: 50,
  watchBufferSize: 1_000,
  readMaxBytes: 1024 * 1024,
  targetPolicy: DEFAULT_TARGET_POLICY,
  secretsKeys: NO_SECRETS_KEYS,
};

/** Bounds of the durations (ms) a variable sets: checked when read, with the variable's name, and again in the config. */
const POLL_RANGE = { min: 10, max: 60_000 };
const HEARTBEAT_RANGE = { min: 100, max: 3_600_000 };
/** The gateway's durations are short: a bad one's message suggests short ones. */
const DURATION_EXAMPLES = '250ms, 30s or 5m';

/** Fills in defaults and checks every value once; a bad one is TickwiseError `invalid_config` (the CLI exits with 2). */
export function resolveGatewayConfig(overrides: Partial<GatewayConfig> = {}): GatewayConfig {
  const config = { ...DEFAULT_GATEWAY_CONFIG, ...overrides };
  if (typeof config.host !== 'string' || config.host === '') throw invalidConfig('host must be a host name or address');
  checkInteger('port', config.port, 0, 65_535);
  checkInteger('watchPollIntervalMs', config.watchPollIntervalMs, POLL_RANGE.min, POLL_RANGE.max);
  checkInteger('watchMinIntervalMs', config.watchMinIntervalMs, 0, config.watchPollIntervalMs);
  checkInteger('heartbeatMs', config.heartbeatMs, HEARTBEAT_RANGE.min, HEARTBEAT_RANGE.max);
  checkInteger('maxWatchers', config.maxWatchers, 1, 100_000);
  checkInteger('maxWatchersPerTenant', config.maxWatchersPerTenant, 1, config.maxWatchers);
  checkInteger('watchBufferSize', config.watchBufferSize, 10, 1_000_000);
  checkInteger('readMaxBytes', config.readMaxBytes, 1024, 64 * 1024 * 1024);
  return config;
}

/**
 * TICKWISE_GATEWAY_HOST, TICKWISE_GATEWAY_PORT, TICKWISE_WATCH_HEARTBEAT, TICKWISE_WATCH_POLL_INTERVAL,
 * and the scheduler's TICKWISE_ALLOW_TARGETS / TICKWISE_DENY_TARGETS (the same lists on both, so an
 * endpoint the nodes would refuse to call is refused when written), and TICKWISE_SECRETS_KEY(_FILE)
 * with TICKWISE_SECRETS_OLD_KEY(_FILE), the nodes' keys (a secret set here must open there).
 */
export function gatewayConfigFromEnv(env: NodeJS.ProcessEnv): GatewayConfig {
  const overrides: Partial<GatewayConfig> = { targetPolicy: targetPolicyFromEnv(env), secretsKeys: secretsKeyringFromEnv(env) };
  const host = envText(env, 'TICKWISE_GATEWAY_HOST');
  if (host !== undefined) overrides.host = host;
  const port = envPort(env, 'TICKWISE_GATEWAY_PORT');
  if (port !== undefined) overrides.port = port;
  const heartbeat = envDuration(env, 'TICKWISE_WATCH_HEARTBEAT', { examples: DURATION_EXAMPLES, ...HEARTBEAT_RANGE });
  if (heartbeat !== undefined) overrides.heartbeatMs = heartbeat;
  const poll = envDuration(env, 'TICKWISE_WATCH_POLL_INTERVAL', { examples: DURATION_EXAMPLES, ...POLL_RANGE });
  if (poll !== undefined) {
    overrides.watchPollIntervalMs = poll;
    overrides.watchMinIntervalMs = Math.min(DEFAULT_GATEWAY_CONFIG.watchMinIntervalMs, poll);
  }
  return resolveGatewayConfig(overrides);
}
