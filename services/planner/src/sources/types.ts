import type { RunEvent } from '@tickwise/events';

/** A batch of decoded run events, in order per endpoint. */
export interface RunEventBatch {
  events: RunEvent[];
}

/**
 * Where run events come from: the database outbox or a Kafka topic. The planner's code is the same
 * behind either; a source only transports, decodes and acknowledges.
 */
export interface RunEventSource {
  /** 'database' | 'kafka', for logs and metrics. */
  readonly name: string;
  /**
   * Delivers batches until `stop()`. `handle` resolves once the batch's effects (hints, analyses)
   * are committed; only then does the source acknowledge it (advance the cursor, commit offsets),
   * so delivery is at least once. A message that does not decode is logged and skipped, never
   * retried forever. Resolves when the source has started delivering.
   */
  start(handle: (batch: RunEventBatch) => Promise<void>): Promise<void>;
  /** Stops delivering, waits for the batch in hand, acknowledges what was handled. */
  stop(): Promise<void>;
  /** Events known to be waiting (consumer lag), or null when the source cannot tell. */
  lag(): number | null;
  /** Started and still delivering (false once stopped, or after a failure it does not recover from). */
  isRunning(): boolean;
}
