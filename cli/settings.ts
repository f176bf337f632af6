import { resolve } from 'node:path';
import { LOAD_BALANCE_MODES, type SmartDriverOptions } from '@tickwise/db';
import { createLogger, isLogLevel, type LogFormat } from './logger.ts';

/** A setting the user got wrong, or one that is missing; the CLI prints it and exits with 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Every environment variable the CLI itself reads (scheduler tuning lives in SCHEDULER_ENV). */
export interface CliSettings {
  databaseUrl: string | undefined;
  dataDir: string;
  embeddedPort: number;
  syntheticPort: number;
  logLevel: ReturnType<typeof parseLevel>;
  logFormat: LogFormat;
  /** Set when TICKWISE_YB_LOAD_BALANCE asks for the YugabyteDB smart driver. */
  smartDriver: SmartDriverOptions | undefined;
}

function parseSmartDriver(env: NodeJS.ProcessEnv): SmartDriverOptions | undefined {
  const mode = env.TICKWISE_YB_LOAD_BALANCE;
  if (mode === undefined || mode === '' || mode === 'false') {
    if (env.TICKWISE_YB_TOPOLOGY_KEYS) throw new UsageError('TICKWISE_YB_TOPOLOGY_KEYS needs TICKWISE_YB_LOAD_BALANCE (e.g. true)');
    return undefined;
  }
  if (!(LOAD_BALANCE_MODES as readonly string[]).includes(mode)) {
    throw new UsageError(`TICKWISE_YB_LOAD_BALANCE must be false, ${LOAD_BALANCE_MODES.join(', ')}, got "${mode}"`);
  }
  const options: SmartDriverOptions = { loadBalance: mode as SmartDriverOptions['loadBalance'] };
  const keys = env.TICKWISE_YB_TOPOLOGY_KEYS;
  if (keys) {
    if (!/^[^.,:\s]+\.[^.,:\s]+\.[^.,:\s]+(:\d+)?(,[^.,:\s]+\.[^.,:\s]+\.[^.,:\s]+(:\d+)?)*$/.test(keys)) {
      throw new UsageError(`TICKWISE_YB_TOPOLOGY_KEYS must be cloud.region.zone[:priority] entries separated by commas, got "${keys}"`);
    }
    options.topologyKeys = keys;
  }
  const refresh = env.TICKWISE_YB_REFRESH_INTERVAL;
  if (refresh) {
    if (!/^\d+$/.test(refresh) || Number(refresh) > 600) throw new UsageError(`TICKWISE_YB_REFRESH_INTERVAL must be whole seconds from 0 to 600, got "${refresh}"`);
    options.refreshIntervalSeconds = Number(refresh);
  }
  return options;
}

function parseLevel(raw: string | undefined) {
  const level = raw ?? 'info';
  if (!isLogLevel(level)) throw new UsageError(`TICKWISE_LOG_LEVEL must be debug, info, warn or error, got "${level}"`);
  return level;
}

function parsePort(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new UsageError(`${name} must be a port number (1-65535), got "${raw}"`);
  return port;
}

export function readSettings(env: NodeJS.ProcessEnv): CliSettings {
  const format = env.TICKWISE_LOG_FORMAT ?? (process.stderr.isTTY ? 'pretty' : 'json');
  if (format !== 'json' && format !== 'pretty') throw new UsageError(`TICKWISE_LOG_FORMAT must be json or pretty, got "${format}"`);
  return {
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir: resolve(env.TICKWISE_DATA_DIR ?? '.tickwise'),
    embeddedPort: parsePort('TICKWISE_EMBEDDED_PG_PORT', env.TICKWISE_EMBEDDED_PG_PORT, 54329),
    syntheticPort: parsePort('TICKWISE_SYNTHETIC_PORT', env.TICKWISE_SYNTHETIC_PORT, 8788),
    logLevel: parseLevel(env.TICKWISE_LOG_LEVEL),
    logFormat: format,
    smartDriver: parseSmartDriver(env),
  };
}

export function requireDatabaseUrl(settings: CliSettings, command: string): string {
  if (!settings.databaseUrl) {
    throw new UsageError(`DATABASE_URL is not set: "tickwise ${command}" needs a database (PostgreSQL 15+ or YugabyteDB). For a local one, run "tickwise dev".`);
  }
  return settings.databaseUrl;
}

export function loggerFor(settings: CliSettings, name: string) {
  return createLogger({ level: settings.logLevel, format: settings.logFormat, name });
}
