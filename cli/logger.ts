import type { LogFields, Logger } from '@tickwise/scheduler';

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LEVELS)[number];
export type LogFormat = 'json' | 'pretty';

export function isLogLevel(value: string): value is LogLevel {
  return (LEVELS as readonly string[]).includes(value);
}

/** Structured logs on stderr: JSON lines for machines, `time level message key=value` for people. */
export function createLogger(options: { level: LogLevel; format: LogFormat; name: string; write?: (line: string) => void }): Logger {
  const min = LEVELS.indexOf(options.level);
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const emit = (level: LogLevel, message: string, fields: LogFields = {}) => {
    if (LEVELS.indexOf(level) < min) return;
    const time = new Date().toISOString();
    if (options.format === 'json') {
      write(JSON.stringify({ time, level, service: options.name, message, ...fields }));
      return;
    }
    const extra = Object.entries(fields)
      .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
      .join(' ');
    write(`${time.slice(11, 23)} ${level.padEnd(5)} ${message}${extra ? `  ${extra}` : ''}`);
  };
  return {
    debug: (message, fields) => emit('debug', message, fields),
    info: (message, fields) => emit('info', message, fields),
    warn: (message, fields) => emit('warn', message, fields),
    error: (message, fields) => emit('error', message, fields),
  };
}
