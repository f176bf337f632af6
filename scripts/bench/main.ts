/**
 * `npm run bench`: the scheduler's figures on the machine it runs on.
 *   1. executions/s end to end (claim → HTTP to a local no-op target → run recorded → next run
 *      planned) with 1 and 2 scheduler processes and many endpoints due at once;
 *      then graphile-worker on the same work (scripts/bench/peer.ts), printing both rates and the ratio;
 *   2. lateness (dispatch start − scheduled slot) at a steady 1,000 and 5,000 calls/s, and the spacing
 *      of each of 200 endpoints every second, all due in the same instant (scripts/bench/lateness.ts);
 *   3. the cost of a claim as the endpoints table grows to 1,000,000 rows with few due;
 *   and hints, planner (see their files), api (the gateway, scripts/bench/api.ts), apply (creating
 *   endpoints: `tickwise apply` on the database path and ApplyJobs, scripts/bench/apply.ts).
 * Settings: DATABASE_URL (else embedded PostgreSQL 15), BENCH_ENDPOINTS (default 20000),
 * BENCH_STEADY_SECONDS (default 20), BENCH_CLAIM_SIZES (default 10000,100000,1000000),
 * BENCH_PEER_MODES (graphile-worker's modes run beside the throughput part; default batched,default;
 * empty: none), BENCH_TWO_PROCESSES (false: the throughput part runs one scheduler process only),
 * BENCH_LATENESS_RATES (calls/s of the lateness part; default 1000,5000; empty: the spacing only), BENCH_TARGET_NICE (the
 * no-op target's niceness, default -10: it stands for another machine; see startTarget),
 * BENCH_SQL (a file of SQL run after the migrations, to try a variant of a function).
 */
import { execSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { claimDue } from '@tickwise/db';
import { cpuSeconds, postgresCpuSeconds } from './cpu.ts';
import { apiBench } from './api.ts';
import { applyBench } from './apply.ts';
import { hintsBench } from './hints.ts';
import { lateness, spacing } from './lateness.ts';
import { commitCost } from './commit-cost.ts';
import { peerThroughput, waitForCalls, type PeerMode } from './peer.ts';
import { plannerBench } from './planner.ts';
import { benchDatabase, bulkEndpoints, percentile, sleep, startSchedulers, startTarget, stopAll } from './setup.ts';

const ENDPOINTS = Number(process.env.BENCH_ENDPOINTS ?? 20_000);
const STEADY_SECONDS = Number(process.env.BENCH_STEADY_SECONDS ?? 20);
const LATENESS_RATES = (process.env.BENCH_LATENESS_RATES ?? '1000,5000').split(',').filter(Boolean).map(Number);
const TWO_PROCESSES = process.env.BENCH_TWO_PROCESSES !== 'false';
const PEER_MODES = (process.env.BENCH_PEER_MODES ?? 'batched,default').split(',').filter(Boolean) as PeerMode[];
const CLAIM_SIZES = (process.env.BENCH_CLAIM_SIZES ?? '10000,100000,1000000').split(',').map(Number);
const SCHEDULER_ENV = { TICKWISE_CLAIM_BATCH: '500', TICKWISE_MAX_IN_FLIGHT: '1000', TICKWISE_CLAIM_AHEAD: '200ms', TICKWISE_CATCH_UP_GRACE: '1h' };

const results: Record<string, unknown> = { machine: { cpus: (await import('node:os')).cpus().length, node: process.version }, at: new Date().toISOString() };

async function throughput(processes: number) {
  const db = await benchDatabase(`tickwise_bench_tp${processes}`);
  const target = await startTarget();
  try {
    const start = new Date(Date.now() + 6_000);
    await bulkEndpoints(db.pool, ENDPOINTS, { url: `${target.url}/noop`, schedule: { every: '1h' }, timeout: '10s' }, start, 0);
    const nodes = startSchedulers(processes, db.url, SCHEDULER_ENV);
    // CPU per execution of each part, steadier than executions/s on a shared machine: counted from
    // just before the slots fall due (start-up left out) to the end.
    await sleep(start.getTime() - Date.now() - 100);
    const cpuBefore = {
      schedulers: nodes.reduce((sum, node) => sum + cpuSeconds(node.pid!), 0),
      postgres: postgresCpuSeconds(db.postmasterPid),
      target: cpuSeconds(target.process.pid!),
    };
    const counted = await waitForCalls(target.url, ENDPOINTS);
    // Every call answered: wait for the last runs to be recorded and planned, so their cost is counted.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM endpoints WHERE next_run_at > $1', [start]);
      if (rows[0]!.n >= ENDPOINTS || Date.now() > deadline) break;
      await sleep(200);
    }
    const cpu = {
      schedulers: nodes.reduce((sum, node) => sum + cpuSeconds(node.pid!), 0) - cpuBefore.schedulers,
      postgres: postgresCpuSeconds(db.postmasterPid) - cpuBefore.postgres,
      target: cpuSeconds(target.process.pid!) - cpuBefore.target,
    };
    await stopAll(nodes);
    const { rows } = await db.pool.query<{ runs: number; seconds: number; distinct_slots: number }>(
      `SELECT count(*)::int AS runs, count(DISTINCT endpoint_id)::int AS distinct_slots,
              extract(epoch FROM max(finished_at) - min(started_at))::float AS seconds FROM runs`,
    );
    const { runs, seconds, distinct_slots } = rows[0]!;
    const planned = (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM endpoints WHERE next_run_at > $1 AND state = $2', [start, 'idle'])).rows[0]!.n;
    const perRun = (cpuSecondsUsed: number) => Math.round((cpuSecondsUsed * 1e6) / runs);
    const cpuMicrosPerRun = { schedulers: perRun(cpu.schedulers), postgres: perRun(cpu.postgres), target: perRun(cpu.target) };
    // Executions/s as counted at the target (first call to last), the way the peer is counted.
    const figure = { processes, endpoints: ENDPOINTS, runs, duplicates: runs - distinct_slots, replanned: planned, seconds: round(counted.seconds, 2), executionsPerSecond: counted.perSecond, recordedSeconds: round(seconds, 2), cpuMicrosPerRun };
    console.log(`throughput, ${processes} scheduler process(es): ${figure.executionsPerSecond} executions/s at the target (${counted.calls} calls in ${figure.seconds}s over ${counted.connections} connections; ${runs} runs recorded in ${figure.recordedSeconds}s, ${figure.duplicates} duplicates, ${planned} re-planned)`);
    console.log(`  CPU per execution: scheduler ${cpuMicrosPerRun.schedulers} µs, PostgreSQL ${cpuMicrosPerRun.postgres} µs, target ${cpuMicrosPerRun.target} µs`);
    return figure;
  } finally {
    target.process.kill('SIGTERM');
    await db.close();
  }
}

async function claimCost() {
  const db = await benchDatabase('tickwise_bench_claim');
  const figures: { rows: number; claimMsP50: number; claimMsP99: number }[] = [];
  try {
    let total = 0;
    const future = new Date(Date.now() + 86_400_000);
    for (const size of CLAIM_SIZES) {
      await bulkEndpoints(db.pool, size - total, { url: 'http://127.0.0.1:9/none', schedule: { every: '1h' } }, future, 1);
      total = size;
      const samples: number[] = [];
      for (let round = 0; round < 50; round++) {
        // 100 due now among `size`: what a node finds on a busy but mostly idle table.
        await db.pool.query(`UPDATE endpoints SET next_run_at = now() - interval '1 second' WHERE id IN (SELECT id FROM endpoints WHERE state = 'idle' ORDER BY random() LIMIT 100)`);
        const started = performance.now();
        const claimed = await claimDue(db.pool, { worker: 'bench', limit: 100, leaseMs: 30_000, horizon: new Date(), buckets: Array.from({ length: 16 }, (_, i) => i) });
        samples.push(performance.now() - started);
        if (claimed.length !== 100) throw new Error(`claimed ${claimed.length} of 100`);
        await db.pool.query(`UPDATE endpoints SET state = 'idle', lease_owner = NULL, lease_expires_at = NULL, next_run_at = $1 WHERE lease_owner = 'bench'`, [future]);
      }
      samples.sort((a, b) => a - b);
      const figure = { rows: size, claimMsP50: round(percentile(samples, 50), 2), claimMsP99: round(percentile(samples, 99), 2) };
      figures.push(figure);
      console.log(`claim of 100 due among ${size.toLocaleString('en')} endpoints: p50 ${figure.claimMsP50} ms, p99 ${figure.claimMsP99} ms`);
    }
    return figures;
  } finally {
    await db.close();
  }
}

/** Lets the previous phase's disk work (checkpoint, a dropped cluster) finish before the next is timed. */
async function settle(): Promise<void> {
  execSync('sync');
  await sleep(3_000);
}

function round(value: number, digits: number): number {
  return Number(value.toFixed(digits));
}

const only = process.argv[2];
if (!only || only === 'throughput') {
  const one = await throughput(1);
  await settle();
  const figures = [one];
  if (TWO_PROCESSES) {
    figures.push(await throughput(2));
    await settle();
  }
  results.throughput = figures;
  const peers = [];
  for (const mode of PEER_MODES) {
    const peer = await peerThroughput(mode, ENDPOINTS);
    console.log(`  Tickwise (one process) / graphile-worker ${mode}: ${(one.executionsPerSecond / peer.callsPerSecond).toFixed(2)}x`);
    peers.push({ ...peer, ratio: round(one.executionsPerSecond / peer.callsPerSecond, 2) });
    await settle();
  }
  results.peer = peers;
}
if (only === 'peer') {
  results.peer = [];
  for (const mode of PEER_MODES) (results.peer as unknown[]).push(await peerThroughput(mode, ENDPOINTS));
}
if (!only || only === 'lateness') {
  const figures = [];
  for (const rate of LATENESS_RATES) {
    figures.push(await lateness(rate, STEADY_SECONDS, SCHEDULER_ENV));
    await settle();
  }
  results.lateness = figures;
  results.spacing = await spacing(STEADY_SECONDS, SCHEDULER_ENV);
  await settle();
}
if (!only || only === 'hints') {
  results.hints = await hintsBench();
  await settle();
}
if (!only || only === 'planner') { results.planner = await plannerBench(); await settle(); }
if (!only || only === 'api') { results.api = await apiBench(); await settle(); }
if (!only || only === 'apply') { results.apply = await applyBench(); await settle(); }
if (!only || only === 'claim') { results.claim = await claimCost(); await settle(); }
if (!only || only === 'commit') results.commit = await commitCost();
mkdirSync('bench-results', { recursive: true });
writeFileSync('bench-results/latest.json', `${JSON.stringify(results, null, 2)}\n`);
console.log('written to bench-results/latest.json');
