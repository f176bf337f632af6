/**
 * The planner's figures: run-to-planner latency (run commit → event in the planner's hands) on the
 * database path and, when KAFKA_BROKERS and KAFKA_CONNECT_URL are set, through Debezium and Kafka;
 * and the planner's throughput with the heuristic analyzer (events consumed and folded per second).
 * Settings: BENCH_PLANNER_EVENTS (default 100000), BENCH_PLANNER_ENDPOINTS (default 1000),
 * BENCH_LATENCY_SAMPLES (default 1000); KAFKA_BROKERS and KAFKA_CONNECT_URL (scripts/kafka.sh start
 * prints both) for the Kafka path, which registers deploy/connectors/postgres-outbox.json on its own
 * bench database and topic, and removes both (connector, slot, publication, topics) afterwards.
 */
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { commitMachines, newId, type Pool, type RunRecord } from '@tickwise/db';
import { DatabaseRunEventSource, HeuristicAnalyzer, KafkaRunEventSource, Planner, resolvePlannerConfig, type RunEventSource } from '@tickwise/planner';
import { createTopic, deleteTopics, KAFKA_MISSING, kafkaSettings, registerOutboxConnector, type KafkaSettings } from '../../test/support/kafka.ts';
import { benchDatabase, bulkEndpoints, percentile, sleep, type BenchDatabase } from './setup.ts';

const EVENTS = Number(process.env.BENCH_PLANNER_EVENTS ?? 100_000);
const ENDPOINTS = Number(process.env.BENCH_PLANNER_ENDPOINTS ?? 1_000);
const SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 1_000);
const quiet = { debug() {}, info() {}, warn() {}, error: (message: string, fields?: unknown) => console.error(message, fields) };

function run(endpointId: string, jobId: string, failed: boolean): RunRecord {
  const now = new Date();
  return {
    id: newId(),
    endpointId,
    jobId,
    slot: now,
    attempt: 1,
    lastAttempt: true,
    worker: 'bench',
    status: failed ? 'failed' : 'succeeded',
    httpStatus: failed ? 500 : 200,
    durationMs: 3,
    startedAt: now,
    finishedAt: now,
    errorKind: failed ? 'http_status' : null,
    errorMessage: null,
    responseBody: null,
    responseTruncated: false,
    plannedSource: 'baseline',
    retryAfterMs: null,
  };
}

async function endpointsOf(pool: Pool): Promise<{ id: string; job_id: string }[]> {
  return (await pool.query<{ id: string; job_id: string }>('SELECT id, job_id FROM endpoints')).rows;
}

function round(value: number, digits: number): number {
  return Number(value.toFixed(digits));
}

/**
 * Commits runs one by one (as scheduler group commits would, a few ms apart) and times each from
 * its commit returning to the planner being handed its event. An event can reach the planner before
 * its writer hears the commit succeed (NOTIFY is sent at commit): that one counts as 0 ms.
 */
export async function runToPlanner(
  db: BenchDatabase,
  makeSource: (db: BenchDatabase) => Promise<RunEventSource>,
  label: string,
  /** Each sample's wall-clock times (ms since the epoch), for a breakdown by the caller. */
  onSample?: (runId: string, committedAt: number, handedAt: number) => void,
) {
  const endpoints = await endpointsOf(db.pool);
  const committedAt = new Map<string, number>();
  const handedAt = new Map<string, number>();
  const source = await makeSource(db);
  const planner = new Planner({ pool: db.pool, source, analyzer: new HeuristicAnalyzer(), config: resolvePlannerConfig({ minIntervalMs: 3_600_000 }), log: quiet });
  planner.onEvents((events) => {
    const now = performance.now();
    for (const event of events) if (!handedAt.has(event.event_id)) handedAt.set(event.event_id, now);
  });
  await planner.start();
  await sleep(1_000);
  for (let index = 0; index < SAMPLES; index++) {
    const endpoint = endpoints[index % endpoints.length]!;
    const record = run(endpoint.id, endpoint.job_id, false);
    await commitMachines(db.pool, null, [record], []);
    committedAt.set(record.id, performance.now());
    await sleep(5);
  }
  const arrived = () => [...committedAt.keys()].filter((id) => handedAt.has(id)).length;
  const deadline = Date.now() + 30_000;
  while (arrived() < SAMPLES && Date.now() < deadline) await sleep(100);
  await planner.stop();
  const latencies = [...committedAt].flatMap(([id, at]) => {
    const handed = handedAt.get(id);
    if (handed === undefined) return [];
    onSample?.(id, performance.timeOrigin + at, performance.timeOrigin + handed);
    return [Math.max(0, handed - at)];
  });
  const early = [...committedAt].filter(([id, at]) => (handedAt.get(id) ?? Number.POSITIVE_INFINITY) < at).length;
  latencies.sort((a, b) => a - b);
  const figure = { path: label, samples: latencies.length, p50: round(percentile(latencies, 50), 2), p99: round(percentile(latencies, 99), 2), max: round(latencies.at(-1) ?? Number.NaN, 2), beforeCommitReturned: early };
  console.log(`run-to-planner (${label}): p50 ${figure.p50} ms, p99 ${figure.p99} ms, max ${figure.max} ms (${figure.samples} of ${SAMPLES} events; ${early} handed over before their commit returned)`);
  return figure;
}

/**
 * Writes EVENTS run events first (1,000 per commit, one failure in seven), then times a fresh planner
 * from start until it has folded them all. The runs themselves are deleted before it starts: a
 * planner meeting an endpoint rebuilds its state from the endpoint's latest runs and would skip
 * every event as already seen; without them each event is folded, as by a planner that keeps up,
 * and the failures among them make analyses (success↔failure is urgent).
 */
export async function plannerThroughput(db: BenchDatabase, makeSource: (db: BenchDatabase) => Promise<RunEventSource>, label: string) {
  const endpoints = await endpointsOf(db.pool);
  for (let done = 0; done < EVENTS; done += 1_000) {
    const batch = Array.from({ length: Math.min(1_000, EVENTS - done) }, (_, index) => {
      const endpoint = endpoints[(done + index) % endpoints.length]!;
      return run(endpoint.id, endpoint.job_id, (done + index) % 7 === 0);
    });
    await commitMachines(db.pool, null, batch, []);
  }
  await db.pool.query('DELETE FROM runs');
  const source = await makeSource(db);
  const planner = new Planner({ pool: db.pool, source, analyzer: new HeuristicAnalyzer(), config: resolvePlannerConfig(), log: quiet });
  const done = () => planner.stats.eventsFolded + planner.stats.eventsIgnored;
  const started = performance.now();
  await planner.start();
  const deadline = Date.now() + 300_000;
  while (done() < EVENTS && Date.now() < deadline) await sleep(20);
  const seconds = (performance.now() - started) / 1_000;
  await planner.stop();
  const { eventsFolded: folded, eventsIgnored: ignored, analyses, hintChanges } = planner.stats;
  const figure = { path: label, events: folded + ignored, folded, seconds: round(seconds, 2), eventsPerSecond: Math.round((folded + ignored) / seconds), analyses, hintChanges };
  console.log(`planner throughput (${label}, heuristic): ${figure.eventsPerSecond} events/s (${folded} of ${EVENTS} events folded, ${ignored} ignored, in ${figure.seconds}s; ${analyses} analyses, ${hintChanges} hint changes)`);
  return figure;
}

function databaseSource(db: BenchDatabase): Promise<RunEventSource> {
  return Promise.resolve(new DatabaseRunEventSource({ pool: db.pool, connectionString: db.url, owner: `bench-${process.pid}`, log: quiet, batchSize: 5_000 }));
}

/** Messages on a topic (the sum of its partitions' high watermarks; the topic only ever grows here). */
async function topicSize(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((sum, partition) => sum + Number(partition.high), 0);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Each run event's message timestamp on a topic, by run id: the outbox router stamps a message with
 * Debezium's event time (`ts_ms`, when the connector read the change from the WAL).
 */
async function messageTimes(kafka: Kafka, topic: string, ids: ReadonlySet<string>): Promise<Map<string, number>> {
  const times = new Map<string, number>();
  const consumer = kafka.consumer({ groupId: `tickwise-bench-reader-${randomBytes(4).toString('hex')}`, maxWaitTimeInMs: 500 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const id = message.headers?.id?.toString();
        if (id && ids.has(id)) times.set(id, Number(message.timestamp));
      },
    });
    const deadline = Date.now() + 60_000;
    while (times.size < ids.size && Date.now() < deadline) await sleep(100);
    return times;
  } finally {
    await consumer.disconnect();
  }
}

/** p50 / p99 / max of unsorted milliseconds, rounded. Pure. */
function spread(values: number[]): { p50: number; p99: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: round(percentile(sorted, 50), 1), p99: round(percentile(sorted, 99), 1), max: round(sorted.at(-1) ?? Number.NaN, 1) };
}

interface KafkaPath {
  topic: string;
  kafka: Kafka;
  /** A Kafka source in a new consumer group (from the beginning of the topic). */
  source(): RunEventSource;
  /** Resolves once the topic holds at least `count` messages; returns how long Debezium took to get there. */
  filled(count: number): Promise<number>;
}

/**
 * The outbox connector on `db`, publishing to a topic of its own (two partitions, as the template's
 * default), for the time `work` takes; then the connector, its slot, publication and topics go.
 */
async function withKafkaPath<T>(db: BenchDatabase, settings: KafkaSettings, label: string, work: (path: KafkaPath) => Promise<T>): Promise<T> {
  const suffix = randomBytes(4).toString('hex');
  const topic = `tickwise.bench.${label}.${suffix}`;
  const name = `tickwise-bench-${label}-${suffix}`;
  const kafka = new Kafka({ clientId: 'tickwise-bench', brokers: settings.brokers, logLevel: logLevel.NOTHING });
  await createTopic(settings.brokers, topic, 2);
  const connector = await registerOutboxConnector({ databaseUrl: db.url, name, topic, partitions: 2, connectUrl: settings.connectUrl });
  try {
    return await work({
      topic,
      kafka,
      source: () => new KafkaRunEventSource({ brokers: settings.brokers, topic, groupId: `tickwise-bench-${randomBytes(4).toString('hex')}`, log: quiet }),
      async filled(count) {
        const started = performance.now();
        const deadline = Date.now() + 600_000;
        for (let size = await topicSize(kafka, topic); size < count; size = await topicSize(kafka, topic)) {
          if (Date.now() > deadline) throw new Error(`Debezium published ${size} of ${count} run events on ${topic} in 10 minutes`);
          await sleep(500);
        }
        return performance.now() - started;
      },
    });
  } finally {
    await connector.remove();
    await deleteTopics(settings.brokers, [topic, `__debezium-heartbeat.${name}`]);
  }
}

async function withEndpoints<T>(name: string, work: (db: BenchDatabase) => Promise<T>): Promise<T> {
  const db = await benchDatabase(name);
  try {
    await bulkEndpoints(db.pool, ENDPOINTS, { url: 'http://127.0.0.1:9/none', schedule: { every: '1h' } }, new Date(Date.now() + 86_400_000), 0);
    return await work(db);
  } finally {
    await db.close();
  }
}

export async function plannerBench(): Promise<Record<string, unknown>> {
  const figures: Record<string, unknown> = {};
  figures.runToPlannerDatabase = await withEndpoints('tickwise_bench_planner_latency', (db) => runToPlanner(db, databaseSource, 'database, NOTIFY'));
  figures.throughputDatabase = await withEndpoints('tickwise_bench_planner_throughput', (db) => plannerThroughput(db, databaseSource, 'database'));
  const settings = kafkaSettings();
  if (!settings) {
    console.log(`run-to-planner and planner throughput on the Kafka path: skipped. ${KAFKA_MISSING}`);
    figures.kafka = 'skipped: KAFKA_BROKERS is not set';
    return figures;
  }
  figures.runToPlannerKafka = await withEndpoints('tickwise_bench_planner_kafka_latency', (db) =>
    withKafkaPath(db, settings, 'latency', async (path) => {
      const samples = new Map<string, { committedAt: number; handedAt: number }>();
      const figure = await runToPlanner(db, () => Promise.resolve(path.source()), 'Debezium + Kafka', (id, committedAt, handedAt) => void samples.set(id, { committedAt, handedAt }));
      // Where the time goes: commit → read from the WAL by Debezium; read → in the planner's hands
      // (Debezium's queue, Connect's producer, the broker, the consumer). When idle, Debezium waits
      // poll.interval.ms (500 ms by default) before reading the WAL again and before draining its
      // queue again: the split shows which of the two a slow figure comes from.
      const read = await messageTimes(path.kafka, path.topic, new Set(samples.keys()));
      const toRead: number[] = [];
      const toPlanner: number[] = [];
      for (const [id, { committedAt, handedAt }] of samples) {
        const at = read.get(id);
        if (at === undefined) continue;
        toRead.push(at - committedAt);
        toPlanner.push(handedAt - at);
      }
      const split = { samples: toRead.length, commitToDebezium: spread(toRead), debeziumToPlanner: spread(toPlanner) };
      console.log(
        `  of which commit → read by Debezium: p50 ${split.commitToDebezium.p50} ms, p99 ${split.commitToDebezium.p99} ms; read by Debezium → planner: p50 ${split.debeziumToPlanner.p50} ms, p99 ${split.debeziumToPlanner.p99} ms (wall clock, ms resolution)`,
      );
      return { ...figure, split };
    }),
  );
  figures.throughputKafka = await withEndpoints('tickwise_bench_planner_kafka_throughput', (db) =>
    withKafkaPath(db, settings, 'throughput', (path) =>
      plannerThroughput(
        db,
        async () => {
          // Every event in the topic before the clock starts: the planner's rate, not Debezium's.
          const ms = await path.filled(EVENTS);
          console.log(`  all ${EVENTS} run events were on ${path.topic} ${round(ms / 1_000, 1)}s after the bench had written them`);
          return path.source();
        },
        'kafka',
      ),
    ),
  );
  return figures;
}
