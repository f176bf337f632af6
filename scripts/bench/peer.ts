/**
 * The peer the bench runs beside us: graphile-worker (pinned dev dependency) on the same machine,
 * the same PostgreSQL, the same no-op target and the same number of calls, all due at once, each
 * job making the same HTTP call. Counted at the target, from its first call to its last, as ours.
 * Modes: `batched` (its documented local queue + batched completion) and `default`.
 */
import { spawn } from 'node:child_process';
import { makeWorkerUtils, runMigrations } from 'graphile-worker';
import { cpuSeconds, postgresCpuSeconds } from './cpu.ts';
import { benchDatabase, sleep, startTarget, targetCount, type TargetCount } from './setup.ts';

export type PeerMode = 'batched' | 'default';

export interface PeerFigure {
  mode: PeerMode;
  calls: number;
  seconds: number;
  callsPerSecond: number;
  cpuMicrosPerCall: { worker: number; postgres: number; target: number };
}

export async function peerThroughput(mode: PeerMode, calls: number): Promise<PeerFigure> {
  const db = await benchDatabase(`tickwise_bench_peer_${mode}`);
  const target = await startTarget();
  try {
    await runMigrations({ connectionString: db.url });
    const utils = await makeWorkerUtils({ connectionString: db.url });
    const start = new Date(Date.now() + 8_000);
    for (let done = 0; done < calls; done += 1_000) {
      const specs = Array.from({ length: Math.min(1_000, calls - done) }, () => ({ identifier: 'call', payload: { url: `${target.url}/noop` }, runAt: start }));
      await utils.addJobs(specs);
    }
    await utils.release();
    await db.pool.query('VACUUM ANALYZE');
    const worker = spawn(process.execPath, [new URL('./peer-worker.mjs', import.meta.url).pathname, db.url, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      worker.stdout!.once('data', () => resolve());
      worker.once('exit', (code) => reject(new Error(`graphile-worker exited with ${code}`)));
    });
    await sleep(start.getTime() - Date.now() - 100);
    const before = { worker: cpuSeconds(worker.pid!), postgres: postgresCpuSeconds(db.postmasterPid), target: cpuSeconds(target.process.pid!) };
    const counted = await waitForCalls(target.url, calls);
    // Completion is batched: wait until the last jobs are marked done, so their cost is counted.
    for (let waited = 0; waited < 10_000; waited += 200) {
      const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM graphile_worker._private_jobs');
      if (rows[0]!.n === 0) break;
      await sleep(200);
    }
    const used = { worker: cpuSeconds(worker.pid!) - before.worker, postgres: postgresCpuSeconds(db.postmasterPid) - before.postgres, target: cpuSeconds(target.process.pid!) - before.target };
    worker.kill('SIGTERM');
    await new Promise((resolve) => worker.once('exit', resolve));
    const perCall = (seconds: number) => Math.round((seconds * 1e6) / counted.calls);
    const figure: PeerFigure = { mode, calls: counted.calls, seconds: counted.seconds, callsPerSecond: counted.perSecond, cpuMicrosPerCall: { worker: perCall(used.worker), postgres: perCall(used.postgres), target: perCall(used.target) } };
    console.log(`graphile-worker 0.18 (${mode}, concurrency 50): ${figure.callsPerSecond} calls/s (${figure.calls} calls in ${figure.seconds}s over ${counted.connections} connections)`);
    console.log(`  CPU per call: worker ${figure.cpuMicrosPerCall.worker} µs, PostgreSQL ${figure.cpuMicrosPerCall.postgres} µs, target ${figure.cpuMicrosPerCall.target} µs`);
    return figure;
  } finally {
    target.process.kill('SIGTERM');
    await db.close();
  }
}

/** Polls the target until it has answered `calls` calls (or two minutes passed). */
export async function waitForCalls(targetUrl: string, calls: number): Promise<TargetCount> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const counted = await targetCount(targetUrl);
    if (counted.calls >= calls || Date.now() > deadline) return counted;
    await sleep(250);
  }
}
