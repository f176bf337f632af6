import { envCount, envDuration, envText, invalidConfig, isTickwiseError } from '@tickwise/platform';

/** What the analytics consumer runs with; `analyticsConfigFromEnv` reads it from the environment. */
export interface AnalyticsConfig {
  brokers: string[];
  /** The run-event topic: the same setting (KAFKA_TOPIC) and default as the planner's. */
  topic: string;
  /** Its own consumer group, so it never takes partitions from the planner. */
  groupId: string;
  clientId: string;
  windowMs: number;
  windowRuns: number;
  /** Most endpoints exported as Prometheus series (the busiest); 0 exports the totals only. */
  maxSeries: number;
  /** Connection attempts after the first before start() gives up. */
  connectRetries: number;
}

export const ANALYTICS_DEFAULTS = {
  topic: 'tickwise.run-events',
  groupId: 'tickwise-analytics',
  clientId: 'tickwise-analytics',
  windowMs: 15 * 60_000,
  windowRuns: 1_000,
  maxSeries: 100,
  connectRetries: 5,
} as const;

/** Every environment variable the analytics consumer reads (README.md's settings table lists them). */
export const ANALYTICS_ENV = [
  'KAFKA_BROKERS',
  'KAFKA_TOPIC',
  'TICKWISE_ANALYTICS_GROUP_ID',
  'TICKWISE_ANALYTICS_WINDOW',
  'TICKWISE_ANALYTICS_WINDOW_RUNS',
  'TICKWISE_ANALYTICS_MAX_SERIES',
] as const;

const BROKER = /^(\[[0-9a-fA-F:.]+\]|[^\s:,[\]]+):(\d{1,5})$/;
const TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;

function invalid(message: string): never {
  throw invalidConfig(message, 'invalid_settings');
}

/**
 * Validates a config once, with messages that name the setting. Pure; executes nothing.
 * Throws TickwiseError `invalid_config`, reason `invalid_settings`.
 */
export function resolveAnalyticsConfig(input: Partial<AnalyticsConfig> & { brokers: string[] }): AnalyticsConfig {
  const config: AnalyticsConfig = { ...ANALYTICS_DEFAULTS, ...input };
  if (config.brokers.length === 0) invalid('brokers must list at least one host:port');
  for (const broker of config.brokers) {
    const match = BROKER.exec(broker);
    const port = match ? Number(match[2]) : 0;
    if (!match || port < 1 || port > 65_535) invalid(`KAFKA_BROKERS: "${broker}" is not host:port (port 1 to 65535)`);
  }
  if (!TOPIC.test(config.topic) || config.topic === '.' || config.topic === '..') {
    invalid(`KAFKA_TOPIC must be 1 to 249 letters, digits, ".", "_" or "-" (not "." or ".."), got "${config.topic}"`);
  }
  if (!/^\S{1,255}$/.test(config.groupId)) invalid(`TICKWISE_ANALYTICS_GROUP_ID must be 1 to 255 characters without whitespace, got "${config.groupId}"`);
  if (!/^[\x21-\x7e]{1,255}$/.test(config.clientId)) invalid(`clientId must be 1 to 255 printable ASCII characters without spaces, got "${config.clientId}"`);
  if (!Number.isInteger(config.windowMs) || config.windowMs < 60_000 || config.windowMs > 86_400_000) {
    invalid(`TICKWISE_ANALYTICS_WINDOW must be from 1m to 24h, got ${config.windowMs} ms`);
  }
  const ranges: [keyof AnalyticsConfig, string, number, number][] = [
    ['windowRuns', 'TICKWISE_ANALYTICS_WINDOW_RUNS', 10, 100_000],
    ['maxSeries', 'TICKWISE_ANALYTICS_MAX_SERIES', 0, 10_000],
    ['connectRetries', 'connectRetries', 0, 20],
  ];
  for (const [key, name, min, max] of ranges) {
    const value = config[key] as number;
    if (!Number.isInteger(value) || value < min || value > max) invalid(`${name} must be a whole number from ${min} to ${max}, got ${value}`);
  }
  return config;
}

/** Reads ANALYTICS_ENV. KAFKA_BROKERS is required: the consumer reads Kafka only. Pure. */
export function analyticsConfigFromEnv(env: NodeJS.ProcessEnv): AnalyticsConfig {
  const brokers = (envText(env, 'KAFKA_BROKERS') ?? '').split(',').map((broker) => broker.trim()).filter(Boolean);
  if (brokers.length === 0) invalid('KAFKA_BROKERS is not set: "tickwise analytics" reads the run-event topic from Kafka (host:port[,host:port...])');
  try {
    return resolveAnalyticsConfig({
      brokers,
      topic: envText(env, 'KAFKA_TOPIC') ?? ANALYTICS_DEFAULTS.topic,
      groupId: envText(env, 'TICKWISE_ANALYTICS_GROUP_ID') ?? ANALYTICS_DEFAULTS.groupId,
      windowMs: envDuration(env, 'TICKWISE_ANALYTICS_WINDOW', { examples: '15m or 1h' }) ?? ANALYTICS_DEFAULTS.windowMs,
      windowRuns: envCount(env, 'TICKWISE_ANALYTICS_WINDOW_RUNS', { min: 10, max: 100_000 }) ?? ANALYTICS_DEFAULTS.windowRuns,
      maxSeries: envCount(env, 'TICKWISE_ANALYTICS_MAX_SERIES', { min: 0, max: 10_000 }) ?? ANALYTICS_DEFAULTS.maxSeries,
    });
  } catch (error) {
    // The reader's refusals carry no reason of their own: they get the one every settings error has.
    if (isTickwiseError(error, 'invalid_config') && error.reason === undefined) invalid(error.message);
    throw error;
  }
}
