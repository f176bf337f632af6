import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { commitMachines, newId, type RunRecord } from '@tickwise/db';
import type { RunEvent } from '@tickwise/events';
import { silentLogger, TickwiseError } from '@tickwise/platform';
import { KafkaRunEventSource, resolveKafkaSourceOptions, parseBrokerList, type KafkaSourceOptions } from '../src/sources/kafka-source.ts';
import type { RunEventBatch } from '../src/sources/types.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.ts';
import { createTopic, deleteTopics, kafkaOrWarn, produceRaw, readTopic, registerOutboxConnector, uniqueTopic, type OutboxConnector } from '../../../test/support/kafka.ts';
import { freePort } from '../../../test/support/ports.ts';
import { memoryLogger } from '../../../test/support/logger.ts';
import { waitFor } from '../../../test/support/wait.ts';

const kafka = kafkaOrWarn('services/planner/test/kafka-source.test.ts (KafkaRunEventSource on a real broker and Debezium)');

function sourceError(work: () => unknown): TickwiseError {
  try {
    work();
  } catch (error) {
    if (error instanceof TickwiseError) return error;
    throw error;
  }
  throw new Error('expected a TickwiseError');
}

describe('KafkaRunEventSource options', () => {
  it('takes the defaults: group tickwise-planner, topic tickwise.run-events', () => {
    expect(resolveKafkaSourceOptions({ brokers: ['127.0.0.1:9092'], log: silentLogger })).toMatchObject({ groupId: 'tickwise-planner', topic: 'tickwise.run-events', clientId: 'tickwise-planner' });
    expect(parseBrokerList(' a:9092, b:9093 ,')).toEqual(['a:9092', 'b:9093']);
  });

  it.each<[Partial<KafkaSourceOptions>, string]>([
    [{ brokers: [] }, 'kafka source: brokers must be a non-empty list of host:port, got []'],
    [{ brokers: ['kafka'] }, 'kafka source: brokers: "kafka" is not host:port (port 1 to 65535)'],
    [{ brokers: ['kafka:99999'] }, 'kafka source: brokers: "kafka:99999" is not host:port (port 1 to 65535)'],
    [{ groupId: 'my group' }, 'kafka source: groupId must be 1 to 255 characters without whitespace, got "my group"'],
    [{ topic: 'run events' }, 'kafka source: topic must be 1 to 249 letters, digits, ".", "_" or "-" (not "." or ".."), got "run events"'],
    [{ topic: '..' }, 'kafka source: topic must be 1 to 249 letters, digits, ".", "_" or "-" (not "." or ".."), got ".."'],
    [{ clientId: '' }, 'kafka source: clientId must be 1 to 255 printable ASCII characters without spaces, got ""'],
    [{ retryDelayMs: 0 }, 'kafka source: retryDelayMs must be an integer between 10 and 60000, got 0'],
    [{ lagRefreshMs: 1.5 }, 'kafka source: lagRefreshMs must be an integer between 100 and 600000, got 1.5'],
    [{ connectRetries: 21 }, 'kafka source: connectRetries must be an integer between 0 and 20, got 21'],
  ])('refuses %j with an exact message', (bad, message) => {
    const error = sourceError(() => new KafkaRunEventSource({ brokers: ['127.0.0.1:9092'], log: silentLogger, ...bad }));
    expect(error.code).toBe('invalid_config');
    expect(error.reason).toBe('invalid_options');
    expect(error.message).toBe(message);
  });

  it('fails to start as unavailable (start_failed) when no broker answers, and logs kafkajs through our logger', async () => {
    const log = memoryLogger();
    const source = new KafkaRunEventSource({ brokers: [`127.0.0.1:${await freePort()}`], connectRetries: 0, log });
    const error = await source.start(async () => undefined).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TickwiseError);
    expect(error).toMatchObject({ code: 'unavailable', reason: 'start_failed' });
    expect((error as Error).message).toMatch(/could not consume tickwise\.run-events from 127\.0\.0\.1:\d+/);
    expect(log.lines.some((line) => line.startsWith('error kafkajs'))).toBe(true);
    const again = await source.start(async () => undefined).catch((caught: unknown) => caught);
    expect(again).toMatchObject({ code: 'failed_precondition', reason: 'already_started' });
    await source.stop();
  });
});

const JOB = newId();

/** A finished run as a scheduler node records it (a 503 with Retry-After: every nullable field set). */
function makeRun(endpointId: string, overrides: Partial<RunRecord> = {}): RunRecord {
  const startedAt = new Date();
  return {
    id: newId(),
    endpointId,
    jobId: JOB,
    slot: new Date(startedAt.getTime() - 3),
    attempt: 1,
    lastAttempt: true,
    worker: 'kafka-source-test',
    status: 'failed',
    httpStatus: 503,
    durationMs: 41.5,
    startedAt,
    finishedAt: new Date(startedAt.getTime() + 41),
    errorKind: 'http_status',
    errorMessage: 'HTTP 503',
    responseBody: null,
    responseTruncated: false,
    plannedSource: 'baseline',
    retryAfterMs: 30_000,
    ...overrides,
  };
}

describe.skipIf(!kafka)('KafkaRunEventSource on a real broker, with Debezium capturing run_events', () => {
  const settings = kafka!;
  const topic = uniqueTopic('planner');
  const connectorName = `tickwise-test-${randomBytes(4).toString('hex')}`;
  let db: TestDatabase;
  let connector: OutboxConnector | undefined;
  const started: KafkaRunEventSource[] = [];

  function source(log: KafkaSourceOptions['log'] = memoryLogger(), groupId = `tickwise-test-${randomBytes(4).toString('hex')}`) {
    const made = new KafkaRunEventSource({ brokers: settings.brokers, topic, groupId, retryDelayMs: 50, lagRefreshMs: 200, log });
    started.push(made);
    return made;
  }

  /** A handler that records every event it is given. */
  function collector() {
    const events: RunEvent[] = [];
    return { events, ids: () => events.map((event) => event.run_id), handle: async (batch: RunEventBatch) => void events.push(...batch.events) };
  }

  const commit = (...runs: RunRecord[]) => commitMachines(db.pool, null, runs, []);

  beforeAll(async () => {
    db = await createTestDatabase();
    await createTopic(settings.brokers, topic, 2);
    connector = await registerOutboxConnector({ databaseUrl: db.url, name: connectorName, topic, connectUrl: settings.connectUrl });
  });

  afterEach(async () => {
    for (const made of started.splice(0)) await made.stop();
  });

  afterAll(async () => {
    await connector?.remove();
    await deleteTopics(settings.brokers, [topic, `__debezium-heartbeat.${connectorName}`]);
    await db?.drop();
  });

  it('delivers a committed run as its decoded event, keyed by the endpoint id', async () => {
    const log = memoryLogger();
    const received = collector();
    const kafkaSource = source(log);
    await kafkaSource.start(received.handle);
    const endpoint = newId();
    const run = makeRun(endpoint);
    await commit(run);
    const event = await waitFor('the run event', () => received.events.find((candidate) => candidate.run_id === run.id), 30_000);
    expect(event).toEqual({
      schema_version: 1,
      type: 'run.finished',
      event_id: run.id,
      run_id: run.id,
      endpoint_id: endpoint,
      job_id: JOB,
      status: 'failed',
      http_status: 503,
      duration_ms: 41.5,
      scheduled_at: run.slot.toISOString(),
      started_at: run.startedAt.toISOString(),
      finished_at: run.finishedAt.toISOString(),
      lateness_ms: 3,
      error_kind: 'http_status',
      attempt: 1,
      last_attempt: true,
      planned_source: 'baseline',
      retry_after_ms: 30_000,
      worker: 'kafka-source-test',
    });
    const raw = await readTopic(settings.brokers, topic, (messages) => messages.some((message) => message.headers.id === run.id));
    const message = raw.find((candidate) => candidate.headers.id === run.id)!;
    expect(message.key).toBe(endpoint);
    expect(message.headers.eventType).toBe('run.finished');
    expect(JSON.parse(message.value!)).toMatchObject({ event_id: run.id, http_status: 503 });
    // kafkajs's own lines come through our logger.
    expect(log.lines.some((line) => line.startsWith('info kafkajs'))).toBe(true);
  });

  it('delivers a batch again when the handler throws, and commits it once handled', async () => {
    const log = memoryLogger();
    const run = makeRun(newId());
    const attempts: string[][] = [];
    const kafkaSource = source(log);
    await kafkaSource.start(async (batch) => {
      const ids = batch.events.map((event) => event.run_id);
      if (!ids.includes(run.id)) return;
      attempts.push(ids);
      if (attempts.length === 1) throw new Error('planner database unavailable');
    });
    await commit(run);
    await waitFor('the batch to come again', () => attempts.length >= 2, 30_000);
    expect(attempts[1]).toEqual(attempts[0]);
    expect(log.lines.some((line) => line.startsWith('error handling run events failed') && line.includes('planner database unavailable'))).toBe(true);
    await waitFor('lag to reach 0 once handled', () => kafkaSource.lag() === 0, 30_000);
    expect(attempts).toHaveLength(2);
  });

  it('resumes after a restart from the committed offsets: nothing lost, nothing acknowledged delivered again', async () => {
    const group = `tickwise-test-${randomBytes(4).toString('hex')}`;
    // One endpoint: one key, one partition, one order.
    const endpoint = newId();
    const [a, b, c, d] = [makeRun(endpoint), makeRun(endpoint), makeRun(endpoint), makeRun(endpoint)];
    const first = collector();
    const before = source(memoryLogger(), group);
    await before.start(first.handle);
    await commit(a!);
    await commit(b!);
    await waitFor('a and b', () => first.ids().includes(a!.id) && first.ids().includes(b!.id), 30_000);
    await before.stop();

    await commit(c!);
    await commit(d!);
    const second = collector();
    await source(memoryLogger(), group).start(second.handle);
    await waitFor('c and d after the restart', () => second.ids().includes(c!.id) && second.ids().includes(d!.id), 30_000);
    expect(second.ids().filter((id) => [a!.id, b!.id, c!.id, d!.id].includes(id))).toEqual([c!.id, d!.id]);
    expect(second.ids().filter((id) => first.ids().includes(id))).toEqual([]);
  });

  it('stop() waits for the batch in hand and acknowledges it', async () => {
    const group = `tickwise-test-${randomBytes(4).toString('hex')}`;
    const endpoint = newId();
    const held = makeRun(endpoint);
    const later = makeRun(endpoint);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let inHand = false;
    let handled = false;
    const before = source(memoryLogger(), group);
    await before.start(async (batch) => {
      if (!batch.events.some((event) => event.run_id === held.id)) return;
      inHand = true;
      await gate;
      handled = true;
    });
    await commit(held);
    await waitFor('the batch to be in hand', () => inHand, 30_000);
    const stopping = before.stop();
    release();
    await stopping;
    expect(handled).toBe(true);

    await commit(later);
    const after = collector();
    await source(memoryLogger(), group).start(after.handle);
    await waitFor('the run committed after the restart', () => after.ids().includes(later.id), 30_000);
    expect(after.ids()).not.toContain(held.id);
  });

  it('skips a message that is not a run event with a log line, once', async () => {
    const group = `tickwise-test-${randomBytes(4).toString('hex')}`;
    const endpoint = newId();
    // Same key as the run that follows: same partition, read before it.
    await produceRaw(settings.brokers, topic, [{ key: endpoint, value: 'this is not a run event' }]);
    const run = makeRun(endpoint);
    await commit(run);
    const log = memoryLogger();
    const received = collector();
    const kafkaSource = source(log, group);
    await kafkaSource.start(received.handle);
    await waitFor('the run after the bad message', () => received.ids().includes(run.id), 30_000);
    const skipped = log.lines.filter((line) => line.startsWith('warn skipping a Kafka message that is not a run event') && line.includes(endpoint));
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toContain('"code":"not_json"');
    await kafkaSource.stop();

    const next = makeRun(endpoint);
    await commit(next);
    const laterLog = memoryLogger();
    const again = collector();
    await source(laterLog, group).start(again.handle);
    await waitFor('the next run', () => again.ids().includes(next.id), 30_000);
    expect(laterLog.lines.filter((line) => line.includes('not a run event'))).toEqual([]);
  });

  it('reports as lag the events not yet acknowledged', async () => {
    const run = makeRun(newId());
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const kafkaSource = source();
    expect(kafkaSource.lag()).toBeNull();
    await kafkaSource.start(async (batch) => {
      if (batch.events.some((event) => event.run_id === run.id)) await gate;
    });
    await commit(run);
    await waitFor('lag to count the held event', () => (kafkaSource.lag() ?? 0) >= 1, 30_000);
    release();
    await waitFor('lag to reach 0', () => kafkaSource.lag() === 0, 30_000);
  });
});
