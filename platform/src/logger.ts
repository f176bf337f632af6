import { pino, stdTimeFunctions, type DestinationStream } from 'pino';
import pretty from 'pino-pretty';

export type LogFields = Record<string, unknown>;

/** What every part of Tickwise logs through: a message, then the fields that go with it. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export interface LoggerOptions {
  level: LogLevel;
  /** `json`: one JSON object per line (`time`, `level`, `service`, `message`, then the fields); `pretty`: for a terminal. */
  format: LogFormat;
  /** The `service` field: which process or part wrote the line. */
  name: string;
  /** Where lines go (default: standard error, written synchronously so nothing is lost at exit). */
  write?: (line: string) => void;
}

/** A pino logger behind `Logger`: pino writes the lines, the interface keeps message-first calls. */
export function createLogger(options: LoggerOptions): Logger {
  const destination: DestinationStream = options.write
    ? { write: (line: string) => options.write!(line.endsWith('\n') ? line.slice(0, -1) : line) }
    : pino.destination({ dest: 2, sync: true });
  const stream =
    options.format === 'pretty'
      ? pretty({ destination, sync: true, colorize: !options.write && process.stderr.isTTY, messageKey: 'message', translateTime: 'HH:MM:ss.l', singleLine: true, ignore: 'pid,hostname,service' })
      : destination;
  const logger = pino(
    {
      level: options.level,
      base: { service: options.name },
      messageKey: 'message',
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
  return {
    debug: (message, fields) => logger.debug(fields ?? {}, message),
    info: (message, fields) => logger.info(fields ?? {}, message),
    warn: (message, fields) => logger.warn(fields ?? {}, message),
    error: (message, fields) => logger.error(fields ?? {}, message),
  };
}
