import { resolve } from 'node:path';
import { connectionSafetyFromEnv, LOAD_BALANCE_MODES, type ConnectionSafety, type SmartDriverOptions } from '@tickwise/db';
import { createLogger, envChoice, envPort, envText, invalidConfig, LOG_FORMATS, LOG_LEVELS, TickwiseError, type LogFormat, type Logger, type LogLevel } from '@tickwise/platform';

/**
 * What the command line asks for cannot be done as asked (an unknown option, a bad value, a name
 * that is not one): `invalid_argument`, so the CLI exits with 2. A setting (an environment variable)
 * is `invalidConfig`'s, also exit 2.
 */
export function invalidArgument(message: string): TickwiseError {
  return new TickwiseError('invalid_argument', message);
}

/** Every environment variable the CLI itself reads (scheduler tuning lives in SCHEDULER_ENV). */
export interface CliSettings {
  databaseUrl: string | undefined;
  dataDir: string;
  embeddedPort: number;
  syntheticPort: number;
  logLevel: LogLevel;
  logFormat: LogFormat;
  /** Set when TICKWISE_YB_LOAD_BALANCE asks for the YugabyteDB smart driver. */
  smartDriver: SmartDriverOptions | undefined;
  /** Every pool's connect and query timeouts and keepalive (TICKWISE_DB_CONNECT_TIMEOUT, _QUERY_TIMEOUT, _KEEPALIVE). */
  connectionSafety: ConnectionSafety;
}

const TOPOLOGY_KEYS = /^[^.,:\s]+\.[^.,:\s]+\.[^.,:\s]+(:\d+)?(,[^.,:\s]+\.[^.,:\s]+\.[^.,:\s]+(:\d+)?)*$/;

function parseSmartDriver(env: NodeJS.ProcessEnv): SmartDriverOptions | undefined {
  const mode = envChoice(env, 'TICKWISE_YB_LOAD_BALANCE', ['false', ...LOAD_BALANCE_MODES], `false, ${LOAD_BALANCE_MODES.join(', ')}`);
  const keys = envText(env, 'TICKWISE_YB_TOPOLOGY_KEYS');
  if (mode === undefined || mode === 'false') {
    if (keys !== undefined) throw invalidConfig('TICKWISE_YB_TOPOLOGY_KEYS needs TICKWISE_YB_LOAD_BALANCE (e.g. true)');
    return undefined;
  }
  const options: SmartDriverOptions = { loadBalance: mode };
  if (keys !== undefined) {
    if (!TOPOLOGY_KEYS.test(keys)) throw invalidConfig(`TICKWISE_YB_TOPOLOGY_KEYS must be cloud.region.zone[:priority] entries separated by commas, got "${keys}"`);
    options.topologyKeys = keys;
  }
  // Not envCount: the message says the unit (seconds), which a person would otherwise guess.
  const refresh = envText(env, 'TICKWISE_YB_REFRESH_INTERVAL');
  if (refresh !== undefined) {
    if (!/^\d+$/.test(refresh) || Number(refresh) > 600) throw invalidConfig(`TICKWISE_YB_REFRESH_INTERVAL must be whole seconds from 0 to 600, got "${refresh}"`);
    options.refreshIntervalSeconds = Number(refresh);
  }
  return options;
}

export function readSettings(env: NodeJS.ProcessEnv): CliSettings {
  return {
    databaseUrl: envText(env, 'DATABASE_URL'),
    dataDir: resolve(envText(env, 'TICKWISE_DATA_DIR') ?? '.tickwise'),
    embeddedPort: envPort(env, 'TICKWISE_EMBEDDED_PG_PORT') ?? 54329,
    syntheticPort: envPort(env, 'TICKWISE_SYNTHETIC_PORT') ?? 8788,
    logLevel: envChoice(env, 'TICKWISE_LOG_LEVEL', LOG_LEVELS, 'debug, info, warn or error') ?? 'info',
    // Readable on a terminal, JSON lines for a log collector.
    logFormat: envChoice(env, 'TICKWISE_LOG_FORMAT', LOG_FORMATS, 'json or pretty') ?? (process.stderr.isTTY ? 'pretty' : 'json'),
    smartDriver: parseSmartDriver(env),
    connectionSafety: connectionSafetyFromEnv(env),
  };
}

export function requireDatabaseUrl(settings: CliSettings, command: string): string {
  if (!settings.databaseUrl) {
    throw invalidConfig(`DATABASE_URL is not set: "tickwise ${command}" needs a database (PostgreSQL 15+ or YugabyteDB). For a local one, run "tickwise dev".`);
  }
  return settings.databaseUrl;
}

export function loggerFor(settings: CliSettings, name: string): Logger {
  return createLogger({ level: settings.logLevel, format: settings.logFormat, name });
}
