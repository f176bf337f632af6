import { formatDuration, parseDuration } from '@tickwise/machines';
import { DEFAULT_TARGET_POLICY, TargetPolicyError, targetPolicyFromEnv, type TargetPolicy } from '@tickwise/scheduler';

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
};

/** A gateway setting that cannot be used; the CLI prints it and exits with 2. */
export class GatewayConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GatewayConfigError';
  }
}

function checkInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) throw new GatewayConfigError(`${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
}

/** Fills in defaults and checks every value once. */
export function resolveGatewayConfig(overrides: Partial<GatewayConfig> = {}): GatewayConfig {
  const config = { ...DEFAULT_GATEWAY_CONFIG, ...overrides };
  if (typeof config.host !== 'string' || config.host === '') throw new GatewayConfigError('host must be a host name or address');
  checkInteger('port', config.port, 0, 65_535);
  checkInteger('watchPollIntervalMs', config.watchPollIntervalMs, 10, 60_000);
  checkInteger('watchMinIntervalMs', config.watchMinIntervalMs, 0, config.watchPollIntervalMs);
  checkInteger('heartbeatMs', config.heartbeatMs, 100, 3_600_000);
  checkInteger('maxWatchers', config.maxWatchers, 1, 100_000);
  checkInteger('maxWatchersPerTenant', config.maxWatchersPerTenant, 1, config.maxWatchers);
  checkInteger('watchBufferSize', config.watchBufferSize, 10, 1_000_000);
  checkInteger('readMaxBytes', config.readMaxBytes, 1024, 64 * 1024 * 1024);
  return config;
}

function envDuration(env: NodeJS.ProcessEnv, name: string, min: number, max: number): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const ms = parseDuration(raw);
  if (ms === undefined) throw new GatewayConfigError(`${name} must be a duration such as 250ms, 30s or 5m, got "${raw}"`);
  if (ms < min || ms > max) throw new GatewayConfigError(`${name} must be from ${formatDuration(min)} to ${formatDuration(max)}, got "${raw}"`);
  return ms;
}

/**
 * TICKWISE_GATEWAY_HOST, TICKWISE_GATEWAY_PORT, TICKWISE_WATCH_HEARTBEAT, TICKWISE_WATCH_POLL_INTERVAL,
 * and the scheduler's TICKWISE_ALLOW_TARGETS / TICKWISE_DENY_TARGETS (the same lists on both, so an
 * endpoint the nodes would refuse to call is refused when written).
 */
export function gatewayConfigFromEnv(env: NodeJS.ProcessEnv): GatewayConfig {
  const overrides: Partial<GatewayConfig> = {};
  try {
    overrides.targetPolicy = targetPolicyFromEnv(env);
  } catch (error) {
    throw error instanceof TargetPolicyError ? new GatewayConfigError(error.message) : error;
  }
  if (env.TICKWISE_GATEWAY_HOST) overrides.host = env.TICKWISE_GATEWAY_HOST;
  const port = env.TICKWISE_GATEWAY_PORT;
  if (port !== undefined && port !== '') {
    if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65_535) throw new GatewayConfigError(`TICKWISE_GATEWAY_PORT must be a port number (1-65535), got "${port}"`);
    overrides.port = Number(port);
  }
  const heartbeat = envDuration(env, 'TICKWISE_WATCH_HEARTBEAT', 100, 3_600_000);
  if (heartbeat !== undefined) overrides.heartbeatMs = heartbeat;
  const poll = envDuration(env, 'TICKWISE_WATCH_POLL_INTERVAL', 10, 60_000);
  if (poll !== undefined) {
    overrides.watchPollIntervalMs = poll;
    overrides.watchMinIntervalMs = Math.min(DEFAULT_GATEWAY_CONFIG.watchMinIntervalMs, poll);
  }
  return resolveGatewayConfig(overrides);
}
