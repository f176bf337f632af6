// The only file that knows kafkajs (unmaintained upstream): another client replaces it here alone.
import { Kafka, logLevel, type Admin, type Consumer, type EachBatchPayload } from 'kafkajs';
import { decodeRunEventMessage, runEventDecodeReason, type RunEvent } from '@tickwise/events';
import { checkInteger, invalidConfig, isTickwiseError, kafkaLogCreator, TickwiseError, type Logger } from '@tickwise/platform';
import type { RunEventBatch, RunEventSource } from './types.ts';

export const KAFKA_SOURCE_DEFAULTS = {
  groupId: 'tickwise-planner',
  topic: 'tickwise.run-events',
  clientId: 'tickwise-planner',
  retryDelayMs: 1_000,
  lagRefreshMs: 5_000,
  connectRetries: 5,
} as const;

export interface KafkaSourceOptions {
  /** host:port of at least one broker. */
  brokers: readonly string[];
  /** The consumer group: planners sharing it share the partitions. */
  groupId?: string;
  topic?: string;
  clientId?: string;
  /** How long a batch whose handler failed waits before it is delivered again. */
  retryDelayMs?: number;
  /** How often high watermarks and committed offsets are read for lag(). */
  lagRefreshMs?: number;
  /** Connection attempts after the first before start() gives up. */
  connectRetries?: number;
  log: Logger;
}

export type ResolvedKafkaSourceOptions = Required<Omit<KafkaSourceOptions, 'brokers'>> & { brokers: string[] };

const BROKER = /^(\[[0-9a-fA-F:.]+\]|[^\s:,[\]]+):(\d{1,5})$/;
const TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;

/** `a:9092, b:9092` → ['a:9092', 'b:9092'] (the form of KAFKA_BROKERS). Pure; executes nothing. */
export function parseBrokerList(text: string): string[] {
  return text.split(',').map((broker) => broker.trim()).filter(Boolean);
}

/**
 * Validates the options once, with messages that name the option. Pure; executes nothing.
 * Throws TickwiseError `invalid_config`, reason `invalid_options`, its message starting "kafka source: ".
 */
export function resolveKafkaSourceOptions(options: KafkaSourceOptions): ResolvedKafkaSourceOptions {
  try {
    return resolveOptions(options);
  } catch (error) {
    if (!isTickwiseError(error, 'invalid_config')) throw error;
    throw invalidConfig(`kafka source: ${error.message}`, 'invalid_options');
  }
}

function resolveOptions(options: KafkaSourceOptions): ResolvedKafkaSourceOptions {
  const { brokers } = options;
  if (!Array.isArray(brokers) || brokers.length === 0) throw invalidConfig(`brokers must be a non-empty list of host:port, got ${JSON.stringify(brokers)}`);
  for (const broker of brokers) {
    const match = typeof broker === 'string' ? BROKER.exec(broker) : null;
    const port = match ? Number(match[2]) : 0;
    if (!match || port < 1 || port > 65_535) throw invalidConfig(`brokers: ${JSON.stringify(broker)} is not host:port (port 1 to 65535)`);
  }
  const groupId = options.groupId ?? KAFKA_SOURCE_DEFAULTS.groupId;
  if (typeof groupId !== 'string' || !/^\S{1,255}$/.test(groupId)) throw invalidConfig(`groupId must be 1 to 255 characters without whitespace, got ${JSON.stringify(groupId)}`);
  const topic = options.topic ?? KAFKA_SOURCE_DEFAULTS.topic;
  if (typeof topic !== 'string' || !TOPIC.test(topic) || topic === '.' || topic === '..') {
    throw invalidConfig(`topic must be 1 to 249 letters, digits, ".", "_" or "-" (not "." or ".."), got ${JSON.stringify(topic)}`);
  }
  const clientId = options.clientId ?? KAFKA_SOURCE_DEFAULTS.clientId;
  if (typeof clientId !== 'string' || !/^[\x21-\x7e]{1,255}$/.test(clientId)) throw invalidConfig(`clientId must be 1 to 255 printable ASCII characters without spaces, got ${JSON.stringify(clientId)}`);
  const resolved = {
    brokers: [...brokers],
    groupId,
    topic,
    clientId,
    retryDelayMs: options.retryDelayMs ?? KAFKA_SOURCE_DEFAULTS.retryDelayMs,
    lagRefreshMs: options.lagRefreshMs ?? KAFKA_SOURCE_DEFAULTS.lagRefreshMs,
    connectRetries: options.connectRetries ?? KAFKA_SOURCE_DEFAULTS.connectRetries,
    log: options.log,
  };
  checkInteger('retryDelayMs', resolved.retryDelayMs, 10, 60_000);
  checkInteger('lagRefreshMs', resolved.lagRefreshMs, 100, 600_000);
  checkInteger('connectRetries', resolved.connectRetries, 0, 20);
  return resolved;
}

interface PartitionOffsets {
  high?: number;
  committed?: number;
}

/**
 * Run events from a Kafka topic (Debezium's outbox router, or any shape decodeRunEventMessage
 * reads), in a consumer group. A partition's batch is decoded (undecodable messages logged and
 * skipped), handed to `handle`, and its offsets committed only once `handle` resolved: a rejection
 * commits nothing and the same batch comes again after `retryDelayMs`. Delivery is at least once.
 */
export class KafkaRunEventSource implements RunEventSource {
  readonly name = 'kafka';
  readonly options: ResolvedKafkaSourceOptions;
  private readonly kafka: Kafka;
  private consumer: Consumer | undefined;
  private admin: Admin | undefined;
  private state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  private assigned: number[] | null = null;
  private readonly offsets = new Map<number, PartitionOffsets>();
  private lagTimer: NodeJS.Timeout | undefined;
  private lagFailing = false;
  private wakeRetry: (() => void) | undefined;
  /** The consumer crashed and kafkajs does not restart it. */
  private crashed = false;

  constructor(options: KafkaSourceOptions) {
    this.options = resolveKafkaSourceOptions(options);
    this.kafka = new Kafka({
      clientId: this.options.clientId,
      brokers: this.options.brokers,
      logLevel: logLevel.INFO,
      logCreator: kafkaLogCreator(this.options.log),
      retry: { retries: this.options.connectRetries },
    });
  }

  async start(handle: (batch: RunEventBatch) => Promise<void>): Promise<void> {
    if (this.state !== 'new') {
      throw new TickwiseError('failed_precondition', 'kafka source: start() was already called (a source starts once; make a new one)', { reason: 'already_started' });
    }
    this.state = 'running';
    const { topic, groupId, log } = this.options;
    // Short fetch waits keep stop() prompt; a fetch still returns as soon as a message arrives.
    const consumer = this.kafka.consumer({ groupId, maxWaitTimeInMs: 1_000 });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      this.assigned = payload.memberAssignment[topic] ?? [];
      log.info('kafka source joined its consumer group', { topic, group: groupId, partitions: this.assigned });
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart) {
        this.crashed = true;
        log.error('the Kafka consumer crashed and does not restart: run events stop', { topic, group: groupId, error: payload.error.message });
      }
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: (payload) => this.onBatch(payload, handle) });
    } catch (error) {
      this.state = 'stopped';
      await consumer.disconnect().catch(() => undefined);
      throw new TickwiseError('unavailable', `kafka source: could not consume ${topic} from ${this.options.brokers.join(',')}: ${(error as Error).message}`, {
        reason: 'start_failed',
        cause: error,
      });
    }
    this.admin = this.kafka.admin();
    await this.refreshLag();
    this.lagTimer = setInterval(() => void this.refreshLag(), this.options.lagRefreshMs);
    this.lagTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.state !== 'running') return;
    this.state = 'stopping';
    clearInterval(this.lagTimer);
    this.wakeRetry?.();
    // kafkajs waits for the batch in hand (whose offsets onBatch commits) before it leaves the group.
    await this.consumer?.disconnect();
    await this.admin?.disconnect().catch(() => undefined);
    this.state = 'stopped';
  }

  isRunning(): boolean {
    return this.state === 'running' && !this.crashed;
  }

  lag(): number | null {
    const partitions = this.assigned ?? [...this.offsets.keys()];
    if (this.assigned === null && partitions.length === 0) return null;
    let total = 0;
    for (const partition of partitions) {
      const known = this.offsets.get(partition);
      if (known?.high === undefined || known.committed === undefined) return null;
      total += Math.max(0, known.high - known.committed);
    }
    return total;
  }

  private async onBatch({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }: EachBatchPayload, handle: (batch: RunEventBatch) => Promise<void>): Promise<void> {
    const { topic, partition } = batch;
    this.note(partition, { high: Number(batch.highWatermark) });
    // Stale: a rebalance or seek moved this partition; stopping: not started is not in hand.
    if (isStale() || !isRunning()) return;
    const events: RunEvent[] = [];
    for (const message of batch.messages) {
      try {
        const event = decodeRunEventMessage(message.value);
        if (event) events.push(event);
      } catch (error) {
        this.options.log.warn('skipping a Kafka message that is not a run event', {
          topic,
          partition,
          offset: message.offset,
          key: message.key?.toString('utf8') ?? null,
          code: runEventDecodeReason(error) ?? 'unexpected',
          error: (error as Error).message,
        });
      }
    }
    if (events.length > 0) {
      // A handler may take longer than the session timeout (an LLM call): keep the membership alive.
      const beat = setInterval(() => void heartbeat().catch(() => undefined), 1_000);
      try {
        await handle({ events });
      } catch (error) {
        this.options.log.error('handling run events failed: the batch is delivered again', {
          topic,
          partition,
          first_offset: batch.firstOffset(),
          last_offset: batch.lastOffset(),
          events: events.length,
          retry_in_ms: this.options.retryDelayMs,
          error: (error as Error).message,
        });
        await this.retryPause();
        // Neither resolved nor committed: the next fetch of this partition starts at this batch again.
        return;
      } finally {
        clearInterval(beat);
      }
    }
    const next = (BigInt(batch.lastOffset()) + 1n).toString();
    // The payload's commit goes straight to the group, also while kafkajs stops (its own does not).
    // Resolved only once committed: a failed commit fetches the batch again (at least once).
    await commitOffsetsIfNecessary({ topics: [{ topic, partitions: [{ partition, offset: next }] }] });
    resolveOffset(batch.lastOffset());
    this.note(partition, { committed: Number(next) });
    if (isRunning()) await heartbeat();
  }

  private retryPause(): Promise<void> {
    if (this.state !== 'running') return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, this.options.retryDelayMs);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.wakeRetry = undefined;
        resolve();
      }
      this.wakeRetry = done;
    });
  }

  /** Offsets only move forward here: a stale reading never lowers what a commit already raised. */
  private note(partition: number, seen: PartitionOffsets): void {
    const known = this.offsets.get(partition) ?? {};
    if (seen.high !== undefined) known.high = Math.max(known.high ?? 0, seen.high);
    if (seen.committed !== undefined) known.committed = Math.max(known.committed ?? 0, seen.committed);
    this.offsets.set(partition, known);
  }

  private async refreshLag(): Promise<void> {
    const { topic, groupId, log } = this.options;
    try {
      // Connecting is idempotent in kafkajs: a lost admin connection is made again here.
      await this.admin!.connect();
      const [ends, groups] = await Promise.all([this.admin!.fetchTopicOffsets(topic), this.admin!.fetchOffsets({ groupId, topics: [topic] })]);
      const committed = new Map((groups[0]?.partitions ?? []).map((entry) => [entry.partition, Number(entry.offset)]));
      for (const end of ends) {
        const stored = committed.get(end.partition);
        // No commit yet: the group starts from the beginning, so everything from the low watermark waits.
        this.note(end.partition, { high: Number(end.high), committed: stored === undefined || stored < 0 ? Number(end.low) : stored });
      }
      this.lagFailing = false;
    } catch (error) {
      if (!this.lagFailing) log.warn('kafka source: reading offsets for lag failed', { topic, error: (error as Error).message });
      this.lagFailing = true;
    }
  }
}
