import { checkInteger, DEFAULT_TARGET_POLICY, envCount, envDuration, envPort, envText, invalidConfig, NO_SECRETS_KEYS, type SecretsKeyring, secretsKeyringFromEnv, type TargetPolicy, targetPolicyFromEnv } from '@tickwise/platform';

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
  /** Watches open at once in this process, per tenant, and per API key. */
  maxWatchers: number;
  maxWatchersPerTenant: number;
  maxWatchersPerKey: number;
  /** How often the keys of open watches are checked again, so a revoked key's watches end. */
  watchKeyRecheckMs: number;
  /** Events buffered for a watcher that reads slowly; past that its watch ends (RESOURCE_EXHAUSTED). */
  watchBufferSize: number;
  /** Largest request body accepted. */
  readMaxBytes: number;
  /** A new connection must have sent a whole request's headers (HTTP/2: opened a stream) within this. */
  headersTimeoutMs: number;
  /** A request's body must be in within this of its headers (a Watch sends its whole request at once). */
  requestTimeoutMs: number;
  /** A connection with no call in progress is closed after this (HTTP/1.1 keep-alive, HTTP/2 without streams). */
  idleTimeoutMs: number;
  /** Connections open at once; more are closed as soon as they are accepted. */
  maxConnections: number;
  /** HTTP/2 streams (calls) open at once on one connection: SETTINGS_MAX_CONCURRENT_STREAMS. */
  maxStreamsPerConnection: number;
  /** Failed authentications a client address may make at once (a token bucket), and how fast it earns them back. */
  authFailureBurst: number;
  authFailuresPerMinute: number;
  /** How long a refused key is answered from memory without a lookup (0: never). */
  authNegativeCacheMs: number;
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
  maxWatchersPerKey: 10,
  watchKeyRecheckMs: 2_000,
  watchBufferSize: 1_000,
  readMaxBytes: 1024 * 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  idleTimeoutMs: 30_000,
  maxConnections: 4_096,
  maxStreamsPerConnection: 100,
  authFailureBurst: 20,
  authFailuresPerMinute: 60,
  authNegativeCacheMs: 5_000,
  targetPolicy: DEFAULT_TARGET_POLICY,
  secretsKeys: NO_SECRETS_KEYS,
};

/** Bounds of the durations (ms) a variable sets: checked when read, with the variable's name, and again in the config. */
const POLL_RANGE = { min: 10, max: 60_000 };
const HEARTBEAT_RANGE = { min: 100, max: 3_600_000 };
const HEADERS_RANGE = { min: 100, max: 300_000 };
const REQUEST_RANGE = { min: 100, max: 3_600_000 };
const IDLE_RANGE = { min: 100, max: 3_600_000 };
const RECHECK_RANGE = { min: 100, max: 60_000 };
const NEGATIVE_CACHE_RANGE = { min: 0, max: 600_000 };
const MAX_CONNECTIONS = { min: 1, max: 1_000_000 };
const MAX_STREAMS = { min: 1, max: 10_000 };
const AUTH_FAILURES = { min: 1, max: 1_000_000 };
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
  checkInteger('maxWatchersPerKey', config.maxWatchersPerKey, 1, config.maxWatchers);
  checkInteger('watchKeyRecheckMs', config.watchKeyRecheckMs, RECHECK_RANGE.min, RECHECK_RANGE.max);
  checkInteger('headersTimeoutMs', config.headersTimeoutMs, HEADERS_RANGE.min, HEADERS_RANGE.max);
  checkInteger('requestTimeoutMs', config.requestTimeoutMs, REQUEST_RANGE.min, REQUEST_RANGE.max);
  checkInteger('idleTimeoutMs', config.idleTimeoutMs, IDLE_RANGE.min, IDLE_RANGE.max);
  checkInteger('maxConnections', config.maxConnections, MAX_CONNECTIONS.min, MAX_CONNECTIONS.max);
  checkInteger('maxStreamsPerConnection', config.maxStreamsPerConnection, MAX_STREAMS.min, MAX_STREAMS.max);
  checkInteger('authFailureBurst', config.authFailureBurst, AUTH_FAILURES.min, AUTH_FAILURES.max);
  checkInteger('authFailuresPerMinute', config.authFailuresPerMinute, AUTH_FAILURES.min, AUTH_FAILURES.max);
  checkInteger('authNegativeCacheMs', config.authNegativeCacheMs, NEGATIVE_CACHE_RANGE.min, NEGATIVE_CACHE_RANGE.max);
  checkInteger('watchBufferSize', config.watchBufferSize, 10, 1_000_000);
  checkInteger('readMaxBytes', config.readMaxBytes, 1024, 64 * 1024 * 1024);
  return config;
}

/** The durations and counts read from the environment: variable → config field, and its bounds. */
const DURATIONS: readonly [string, keyof GatewayConfig, { min: number; max: number }][] = [
  ['TICKWISE_GATEWAY_HEADERS_TIMEOUT', 'headersTimeoutMs', HEADERS_RANGE],
  ['TICKWISE_GATEWAY_REQUEST_TIMEOUT', 'requestTimeoutMs', REQUEST_RANGE],
  ['TICKWISE_GATEWAY_IDLE_TIMEOUT', 'idleTimeoutMs', IDLE_RANGE],
  ['TICKWISE_GATEWAY_AUTH_NEGATIVE_CACHE', 'authNegativeCacheMs', NEGATIVE_CACHE_RANGE],
  ['TICKWISE_WATCH_KEY_RECHECK', 'watchKeyRecheckMs', RECHECK_RANGE],
];
const COUNTS: readonly [string, keyof GatewayConfig, { min: number; max: number }][] = [
  ['TICKWISE_GATEWAY_MAX_CONNECTIONS', 'maxConnections', MAX_CONNECTIONS],
  ['TICKWISE_GATEWAY_MAX_STREAMS', 'maxStreamsPerConnection', MAX_STREAMS],
  ['TICKWISE_GATEWAY_AUTH_FAILURE_BURST', 'authFailureBurst', AUTH_FAILURES],
  ['TICKWISE_GATEWAY_AUTH_FAILURES_PER_MINUTE', 'authFailuresPerMinute', AUTH_FAILURES],
  ['TICKWISE_WATCH_MAX_PER_KEY', 'maxWatchersPerKey', { min: 1, max: DEFAULT_GATEWAY_CONFIG.maxWatchers }],
];

/**
 * TICKWISE_GATEWAY_HOST, TICKWISE_GATEWAY_PORT, TICKWISE_WATCH_HEARTBEAT, TICKWISE_WATCH_POLL_INTERVAL,
 * the connection, watch and authentication limits of DURATIONS and COUNTS, the scheduler's
 * TICKWISE_ALLOW_TARGETS / TICKWISE_DENY_TARGETS (the same lists on both, so an endpoint the nodes
 * would refuse to call is refused when written), and TICKWISE_SECRETS_KEY(_FILE) with
 * TICKWISE_SECRETS_OLD_KEY(_FILE), the nodes' keys (a secret set here must open there).
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
  const numbers = overrides as Record<string, unknown>;
  for (const [name, field, range] of DURATIONS) {
    const value = envDuration(env, name, { examples: DURATION_EXAMPLES, ...range });
    if (value !== undefined) numbers[field] = value;
  }
  for (const [name, field, range] of COUNTS) {
    const value = envCount(env, name, range);
    if (value !== undefined) numbers[field] = value;
  }
  return resolveGatewayConfig(overrides);
}
