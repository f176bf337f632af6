import type { LogEntry, logCreator } from 'kafkajs';
import type { Logger } from './logger.ts';

// kafkajs's numeric levels (its `logLevel` enum), named here so this module loads without kafkajs.
const KAFKA_ERROR = 1;
const KAFKA_WARN = 2;
const KAFKA_INFO = 4;

/** kafkajs's log lines into a Logger, as `kafkajs <namespace>: <message>` with its fields (debug dropped). */
export function kafkaLogCreator(log: Logger): logCreator {
  return () =>
    ({ namespace, level, log: entry }: LogEntry) => {
      const { message, timestamp: _timestamp, logger: _logger, ...fields } = entry;
      const text = `kafkajs ${namespace}: ${message}`;
      if (level === KAFKA_ERROR) log.error(text, fields);
      else if (level === KAFKA_WARN) log.warn(text, fields);
      else if (level === KAFKA_INFO) log.info(text, fields);
    };
}
