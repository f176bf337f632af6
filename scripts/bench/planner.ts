/**
 * The planner's figures: run-to-planner latency (run commit → event in the planner's hands) on the
 * database path and, when KAFKA_BROKERS and KAFKA_CONNECT_URL are set, through Debezium and Kafka;
 * and the planner's throughput with the heuristic analyzer (events consumed and folded per second).
 * Settings: BENCH_PLANNER_EVENTS (default 100000), BENCH_PLANNER_ENDPOINTS (default 1000),
 * BENCH_LATENCY_SAMPLES (default 1000).
 */
import { commitMachines, newId, type Pool, type RunRecord } from '@tickwise/db';
import { HeuristicAnalyzer } from '../../services/planner/src/analysis/index.ts';
import { resolvePlannerConfig } from '../../services/planner/src/config.ts';
import { Planner } from '../../services/planner/src/planner.ts';
import { DatabaseRunEventSource } from '../../services/planner/src/sources/database-source.ts';
import type { RunEventSource } from '../../services/planner/src/sources/types.ts';
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
  };
}

async function endpointsOf(pool: Pool): Promise<{ id: string; job_id: string }[]> {
  return (await pool.query<{ id: string; job_id: string }>('SELECT id, job_id FROM endpoints')).rows;
}

function round(value: number, digits: number): number {
  return Number(value.toFixed(digits));
}

/** Commits runs one by one (as scheduler group commits would, a few ms apart) and times each to the planner. */
export async function runToPlanner(db: BenchDatabase, makeSource: (db: BenchDatabase) => Promise<RunEventSource>, label: string) {
  const endpoints = await endpointsOf(db.pool);
  const committedAt = new Map<string, number>();
  const latencies: number[] = [];
  const source = await makeSource(db);
  const planner = new Planner({ pool: db.pool, source, analyzer: new HeuristicAnalyzer(), config: resolvePlannerConfig({ minIntervalMs: 3_600_000 }), log: quiet });
  planner.onEvents((events) => {
    const now = performance.now();
    for (const event of events) {
      const at = committedAt.get(event.event_id);
      if (at !== undefined) latencies.push(now - at);
    }
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
  const deadline = Date.now() + 30_000;
  while (latencies.length < SAMPLES && Date.now() < deadline) await sleep(100);
  await planner.stop();
  latencies.sort((a, b) => a - b);
  const figure = { path: label, samples: latencies.length, p50: round(percentile(latencies, 50), 2), p99: round(percentile(latencies, 99), 2), max: round(latencies.at(-1) ?? Number.NaN, 2) };
  console.log(`run-to-planner (${label}): p50 ${figure.p50} ms, p99 ${figure.p99} ms, max ${figure.max} ms (${figure.samples} of ${SAMPLES} events)`);
  return figure;
}

/** Writes EVENTS run events first, then times a fresh planner consuming and folding them all. */
export async function plannerThroughput(db: BenchDatabase, makeSource: (db: BenchDatabase) => Promise<RunEventSource>, label: string) {
  const endpoints = await endpointsOf(db.pool);
  for (let done = 0; done < EVENTS; done += 1_000) {
    const batch = Array.from({ length: Math.min(1_000, EVENTS - done) }, (_, index) => {
      const endpoint = endpoints[(done + index) % endpoints.length]!;
      return run(endpoint.id, endpoint.job_id, (done + index) % 7 === 0);
    });
    await commitMachines(db.pool, null, batch, []);
  }
  const source = await makeSource(db);
  const planner = new Planner({ pool: db.pool, source, analyzer: new HeuristicAnalyzer(), config: resolvePlannerConfig(), log: quiet });
  let received = 0;
  planner.onEvents((events) => void (received += events.length));
  const started = performance.now();
  await planner.start();
  const deadline = Date.now() + 300_000;
  while (received < EVENTS && Date.now() < deadline) await sleep(20);
  const seconds = (performance.now() - started) / 1_000;
  await planner.stop();
  const figure = { path: label, events: received, seconds: round(seconds, 2), eventsPerSecond: Math.round(received / seconds), analyses: planner.stats.analyses, folded: planner.stats.eventsFolded };
  console.log(`planner throughput (${label}, heuristic): ${figure.eventsPerSecond} events/s (${received} events in ${figure.seconds}s, ${figure.analyses} analyses)`);
  return figure;
}

function databaseSource(db: BenchDatabase): Promise<RunEventSource> {
  return Promise.resolve(new DatabaseRunEventSource({ pool: db.pool, connectionString: db.url, owner: `bench-${process.pid}`, log: quiet, batchSize: 5_000 }));
}

export async function plannerBench(): Promise<Record<string, unknown>> {
  const figures: Record<string, unknown> = {};
  const latencyDb = await benchDatabase('tickwise_bench_planner_latency');
  try {
    await bulkEndpoints(latencyDb.pool, ENDPOINTS, { url: 'http://127.0.0.1:9/none', schedule: { every: '1h' } }, new Date(Date.now() + 86_400_000), 0);
    figures.runToPlannerDatabase = await runToPlanner(latencyDb, databaseSource, 'database, NOTIFY');
  } finally {
    await latencyDb.close();
  }
  const throughputDb = await benchDatabase('tickwise_bench_planner_throughput');
  try {
    await bulkEndpoints(throughputDb.pool, ENDPOINTS, { url: 'http://127.0.0.1:9/none', schedule: { every: '1h' } }, new Date(Date.now() + 86_400_000), 0);
    figures.throughputDatabase = await plannerThroughput(throughputDb, databaseSource, 'database');
  } finally {
    await throughputDb.close();
  }
  return figures;
}
