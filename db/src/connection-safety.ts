import { envDuration } from '@tickwise/platform';

/**
 * How a database connection defends itself against a network that stops answering. Behind a silent
 * partition nothing errors on an established socket: packets vanish, the kernel retransmits with a
 * growing backoff, and a query waits for an answer that may come a minute after the network is back.
 * So every connection gets a deadline for connecting, one for each query's answer, and TCP keepalive.
 */
export interface ConnectionSafety {
  /** Longest wait for a connection to be set up (TCP, TLS, login); 0: none. */
  connectTimeoutMs: number;
  /**
   * Longest wait for a query's answer, measured by the client; 0: none. When it passes, the query
   * fails as a connection error and its connection is destroyed (never reused), so a hung socket
   * costs one timeout, not minutes of TCP retransmissions.
   */
  queryTimeoutMs: number;
  /**
   * Idle time before TCP keepalive probes start on a quiet connection (an idle pooled client, the
   * LISTEN connection). Node's libuv then probes every second, 10 times, so a dead idle connection
   * errors about this + 10 s after the network went, and the pool drops it.
   */
  keepAliveMs: number;
}

export const CONNECTION_SAFETY_DEFAULTS: ConnectionSafety = {
  connectTimeoutMs: 5_000,
  queryTimeoutMs: 10_000,
  keepAliveMs: 5_000,
};

/** Reads TICKWISE_DB_CONNECT_TIMEOUT, TICKWISE_DB_QUERY_TIMEOUT and TICKWISE_DB_KEEPALIVE; unset ones keep the defaults. */
export function connectionSafetyFromEnv(env: NodeJS.ProcessEnv): ConnectionSafety {
  return {
    connectTimeoutMs: envDuration(env, 'TICKWISE_DB_CONNECT_TIMEOUT', { examples: '2s, 5s or 30s (0s: no timeout)', min: 0, max: 300_000 }) ?? CONNECTION_SAFETY_DEFAULTS.connectTimeoutMs,
    queryTimeoutMs: envDuration(env, 'TICKWISE_DB_QUERY_TIMEOUT', { examples: '5s, 10s or 1m (0s: no timeout)', min: 0, max: 3_600_000 }) ?? CONNECTION_SAFETY_DEFAULTS.queryTimeoutMs,
    // Node sets keepalive in whole seconds; under 1 s would mean the system's default (2 hours).
    keepAliveMs: envDuration(env, 'TICKWISE_DB_KEEPALIVE', { examples: '2s, 5s or 1m', min: 1_000, max: 7_200_000 }) ?? CONNECTION_SAFETY_DEFAULTS.keepAliveMs,
  };
}

/** `safety` with the defaults where it leaves a field out (or undefined). Pure. */
export function withSafetyDefaults(safety: Partial<ConnectionSafety> = {}): ConnectionSafety {
  return {
    connectTimeoutMs: safety.connectTimeoutMs ?? CONNECTION_SAFETY_DEFAULTS.connectTimeoutMs,
    queryTimeoutMs: safety.queryTimeoutMs ?? CONNECTION_SAFETY_DEFAULTS.queryTimeoutMs,
    keepAliveMs: safety.keepAliveMs ?? CONNECTION_SAFETY_DEFAULTS.keepAliveMs,
  };
}

/** The `pg` (and `@yugabytedb/pg`) client settings of a ConnectionSafety. Pure. */
export function clientSafetyConfig(safety: Partial<ConnectionSafety> = {}): {
  connectionTimeoutMillis: number;
  query_timeout?: number;
  keepAlive: true;
  keepAliveInitialDelayMillis: number;
} {
  const { connectTimeoutMs, queryTimeoutMs, keepAliveMs } = withSafetyDefaults(safety);
  return {
    connectionTimeoutMillis: connectTimeoutMs,
    // pg reads 0 as "no timeout" too, but leaving the key out says so plainly.
    ...(queryTimeoutMs > 0 ? { query_timeout: queryTimeoutMs } : {}),
    keepAlive: true,
    keepAliveInitialDelayMillis: Math.max(1_000, keepAliveMs),
  };
}
