// The only file of this service that knows kafkajs (as in the planner: another client replaces it here alone).
import { Kafka, logLevel, type Consumer, type EachBatchPayload } from 'kafkajs';
import { decodeRunEventMessage, runEventDecodeReason, type RunEventDecodeReason } from '@tickwise/events';
import { kafkaLogCreator, TickwiseError, type Logger } from '@tickwise/platform';
import type { AnalyticsConfig } from './config.ts';
import type { RollingFigures } from './figures.ts';

/** Messages read, by what became of them. `skipped` are poison messages, by the decoder's reason. */
export interface ConsumerCounts {
  counted: number;
  duplicate: number;
  outsideWindow: number;
  /** Tombstones, updates and deletes of outbox rows: messages that carry no event. */
  empty: number;
  skipped: Record<RunEventDecodeReason | 'unexpected', number>;
}

export interface AnalyticsConsumerOptions {
  config: AnalyticsConfig;
  figures: RollingFigures;
  log: Logger;
  /** The clock of the window (tests move it). */
  now?: () => number;
}

/**
 * Reads the run-event topic in its own consumer group into the rolling figures. The figures live in
 * memory, so whenever this member is given a partition it seeks it back to the first offset of the
 * window (by timestamp) and rebuilds that partition's endpoints; repeats are dropped by event id.
 * A partition taken away drops its endpoints: their new owner rebuilds them. Offsets are
 * auto-committed only so that `kafka-consumer-groups` shows the group's lag.
 */
export class AnalyticsConsumer {
  readonly counts: ConsumerCounts = { counted: 0, duplicate: 0, outsideWindow: 0, empty: 0, skipped: { not_json: 0, unknown_shape: 0, unsupported_version: 0, invalid_event: 0, unexpected: 0 } };
  private readonly kafka: Kafka;
  private readonly now: () => number;
  private consumer: Consumer | undefined;
  private state: 'new' | 'running' | 'crashed' | 'stopped' = 'new';
  private assigned = new Set<number>();
  private joined = false;

  constructor(private readonly options: AnalyticsConsumerOptions) {
    const { config, log } = options;
    this.now = options.now ?? Date.now;
    this.kafka = new Kafka({ clientId: config.clientId, brokers: config.brokers, logLevel: logLevel.INFO, logCreator: kafkaLogCreator(log), retry: { retries: config.connectRetries } });
  }

  /** Partitions of the topic this member holds now. */
  get partitions(): number[] {
    return [...this.assigned].sort((a, b) => a - b);
  }

  /** Resolves when it can serve figures: running, and a member of its group. Else rejects saying why (for /readyz). */
  async ready(): Promise<void> {
    if (this.state === 'new') throw new TickwiseError('unavailable', 'the Kafka consumer is starting');
    if (this.state !== 'running') throw new TickwiseError('unavailable', `the Kafka consumer has ${this.state}`);
    if (!this.joined) throw new TickwiseError('unavailable', 'the Kafka consumer has not joined its group yet');
  }

  async start(): Promise<void> {
    if (this.state !== 'new') {
      throw new TickwiseError('failed_precondition', 'analytics consumer: start() was already called (a consumer starts once; make a new one)', { reason: 'already_started' });
    }
    this.state = 'running';
    const { topic, groupId, brokers } = this.options.config;
    const { log } = this.options;
    const consumer = this.kafka.consumer({ groupId, maxWaitTimeInMs: 1_000 });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => this.onAssignment(payload.memberAssignment[topic] ?? []));
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (payload.restart) return;
      this.state = 'crashed';
      log.error('the Kafka consumer crashed and does not restart: figures stop moving', { topic, group: groupId, error: payload.error.message });
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      // Resolved message by message: a batch cut short by a rewind or a stop must not resolve its tail.
      await consumer.run({ eachBatchAutoResolve: false, eachBatch: (payload) => this.onBatch(payload) });
    } catch (error) {
      this.state = 'stopped';
      await consumer.disconnect().catch(() => undefined);
      throw new TickwiseError('unavailable', `analytics consumer: could not consume ${topic} from ${brokers.join(',')}: ${(error as Error).message}`, { reason: 'start_failed', cause: error });
    }
  }

  async stop(): Promise<void> {
    if (this.state === 'new' || this.state === 'stopped') return;
    this.state = 'stopped';
    await this.consumer?.disconnect();
  }

  /**
   * Runs synchronously inside kafkajs's join, before its first fetch: the partitions gained are
   * paused there, so no message of theirs is read before the rewind (or read twice after it).
   */
  private onAssignment(partitions: number[]): void {
    const { figures, log, config } = this.options;
    const next = new Set(partitions);
    const lost = [...this.assigned].filter((partition) => !next.has(partition));
    const gained = partitions.filter((partition) => !this.assigned.has(partition));
    this.assigned = next;
    this.joined = true;
    const dropped = figures.dropPartitions(lost);
    log.info('analytics consumer joined its group', { topic: config.topic, group: config.groupId, partitions, gained, lost, endpoints_dropped: dropped });
    if (gained.length === 0) return;
    this.consumer!.pause([{ topic: config.topic, partitions: gained }]);
    void this.rewind(gained).finally(() => this.consumer!.resume([{ topic: config.topic, partitions: gained }]));
  }

  /** Seeks partitions to the first message of the window; if that fails, they go on from the committed offsets. */
  private async rewind(partitions: number[]): Promise<void> {
    const { config, log } = this.options;
    const since = this.now() - config.windowMs;
    const admin = this.kafka.admin();
    try {
      await admin.connect();
      const offsets = await admin.fetchTopicOffsetsByTimestamp(config.topic, since);
      for (const { partition, offset } of offsets) {
        if (partitions.includes(partition) && this.assigned.has(partition) && this.state === 'running') this.consumer!.seek({ topic: config.topic, partition, offset });
      }
      log.info('analytics consumer rewound to the start of its window', { topic: config.topic, since: new Date(since).toISOString(), partitions });
    } catch (error) {
      log.warn('analytics consumer could not rewind to its window: figures of these partitions start from the committed offsets', { topic: config.topic, partitions, error: (error as Error).message });
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  private async onBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const { figures, log } = this.options;
    const { topic, partition } = batch;
    for (const message of batch.messages) {
      // Stale: a rewind moved this partition; the rest of this batch comes again from there.
      if (!isRunning() || isStale()) return;
      try {
        const event = decodeRunEventMessage(message.value);
        if (!event) this.counts.empty += 1;
        else {
          const outcome = figures.add(event, this.now(), partition);
          if (outcome === 'counted') this.counts.counted += 1;
          else if (outcome === 'duplicate') this.counts.duplicate += 1;
          else this.counts.outsideWindow += 1;
        }
      } catch (error) {
        const code = runEventDecodeReason(error) ?? 'unexpected';
        this.counts.skipped[code] += 1;
        log.warn('skipping a Kafka message that is not a run event', { topic, partition, offset: message.offset, key: message.key?.toString('utf8') ?? null, code, error: (error as Error).message });
      }
      resolveOffset(message.offset);
    }
    await heartbeat();
  }
}
