/**
 * Lateness and spacing, with one scheduler process:
 * - lateness (dispatch start − scheduled slot) at a steady `rate` calls/s: `rate` endpoints every
 *   second, their slots spread evenly over it;
 * - spacing: 200 endpoints every second, all due in the same instant; the gaps between one
 *   endpoint's consecutive calls, as the target sees them (X-Tickwise-Endpoint).
 * The first two seconds warm the process up (JIT, connections) and are left out.
 */
import { cpuSeconds, postgresCpuSeconds } from './cpu.ts';
import { benchDatabase, bulkEndpoints, percentile, sleep, startSchedulers, startTarget, stopAll } from './setup.ts';

const round = (value: number, digits = 2) => Number(value.toFixed(digits));

export async function lateness(rate: number, steadySeconds: number, env: Record<string, string>) {
  const db = await benchDatabase('tickwise_bench_late');
  const target = await startTarget();
  try {
    const start = new Date(Date.now() + 4_000);
    await bulkEndpoints(db.pool, rate, { url: `${target.url}/noop`, schedule: { every: '1s' }, timeout: '10s' }, start, 1_000 / rate);
    const nodes = startSchedulers(1, db.url, env);
    await sleep(start.getTime() - Date.now() + 2_000);
    // CPU per call over the steady window only (start-up and warm-up left out), as the throughput part counts it.
    const cpuUsed = () => ({ scheduler: cpuSeconds(nodes[0]!.pid!), postgres: postgresCpuSeconds(db.postmasterPid), target: cpuSeconds(target.process.pid!) });
    const cpuBefore = cpuUsed();
    await sleep((steadySeconds - 2) * 1_000);
    const cpuAfter = cpuUsed();
    await stopAll(nodes);
    const { rows } = await db.pool.query<{ late: number }>(`SELECT extract(epoch FROM started_at - slot) * 1000 AS late FROM runs WHERE slot >= $1 ORDER BY 1`, [new Date(start.getTime() + 2_000)]);
    const late = rows.map((row) => Number(row.late));
    const perCall = (key: keyof typeof cpuBefore) => Math.round(((cpuAfter[key] - cpuBefore[key]) * 1e6) / Math.max(late.length, 1));
    if (process.env.BENCH_LATENESS_DETAIL) {
      const { rows: bySecond } = await db.pool.query(
        `SELECT floor(extract(epoch FROM slot - $1::timestamptz)) AS second, count(*) AS runs,
                round(max(extract(epoch FROM started_at - slot) * 1000)) AS max_ms,
                count(*) FILTER (WHERE started_at - slot > interval '20 ms') AS over_20ms
           FROM runs GROUP BY 1 ORDER BY 1`,
        [start],
      );
      console.table(bySecond);
    }
    const figure = {
      targetRate: rate,
      callsPerSecond: Math.round(late.length / (steadySeconds - 2)),
      samples: late.length,
      p50: round(percentile(late, 50)),
      p99: round(percentile(late, 99)),
      max: round(late.at(-1) ?? Number.NaN),
      early: late.filter((ms) => ms < 0).length,
      cpuPerCallMicros: { scheduler: perCall('scheduler'), postgres: perCall('postgres'), target: perCall('target') },
    };
    console.log(`lateness at ${rate} calls/s (${figure.callsPerSecond} made): p50 ${figure.p50} ms, p99 ${figure.p99} ms, max ${figure.max} ms, early ${figure.early} (of ${late.length})`);
    console.log(`  CPU per call: scheduler ${figure.cpuPerCallMicros.scheduler} µs, PostgreSQL ${figure.cpuPerCallMicros.postgres} µs, target ${figure.cpuPerCallMicros.target} µs`);
    return figure;
  } finally {
    target.process.kill('SIGTERM');
    await db.close();
  }
}

export async function spacing(steadySeconds: number, env: Record<string, string>) {
  const db = await benchDatabase('tickwise_bench_spacing');
  const target = await startTarget();
  try {
    const start = new Date(Date.now() + 4_000);
    await bulkEndpoints(db.pool, 200, { url: `${target.url}/noop`, schedule: { every: '1s' }, timeout: '10s' }, start, 0);
    // The earlier phases' writes are flushed now, not by a checkpoint in the middle of this one.
    await db.pool.query('CHECKPOINT');
    const nodes = startSchedulers(1, db.url, env);
    await sleep(start.getTime() - Date.now() + 2_000);
    await fetch(`${target.url}/__reset`, { method: 'POST' });
    await sleep((steadySeconds - 2) * 1_000);
    const gaps = ((await (await fetch(`${target.url}/__spacings`)).json()) as number[]).sort((a, b) => a - b);
    await stopAll(nodes);
    // How long one slot's 200 calls take to start, first to last (the spread an endpoint's place in it can add).
    const { rows: bursts } = await db.pool.query<{ width: number; late: number }>(
      `SELECT extract(epoch FROM max(started_at) - min(started_at)) * 1000 AS width, extract(epoch FROM max(started_at) - slot) * 1000 AS late
         FROM runs WHERE slot >= $1 GROUP BY slot ORDER BY 1`,
      [new Date(start.getTime() + 2_000)],
    );
    const widths = bursts.map((burst) => Number(burst.width));
    if (process.env.BENCH_LATENESS_DETAIL) {
      const { rows } = await db.pool.query<{ slot: Date; first: number; last: number }>(
        `SELECT slot, extract(epoch FROM min(started_at) - slot) * 1000 AS first, extract(epoch FROM max(started_at) - slot) * 1000 AS last FROM runs WHERE slot >= $1 GROUP BY slot ORDER BY slot`,
        [new Date(start.getTime() + 2_000)],
      );
      for (const row of rows) console.log(`  slot ${row.slot.toISOString()}: first start +${Math.round(Number(row.first))} ms, last +${Math.round(Number(row.last))} ms`);
    }
    const figure = { endpoints: 200, samples: gaps.length, p1: round(percentile(gaps, 1)), p50: round(percentile(gaps, 50)), p99: round(percentile(gaps, 99)), min: round(gaps[0] ?? Number.NaN), max: round(gaps.at(-1) ?? Number.NaN), burstMs: { p50: round(percentile(widths, 50)), max: round(widths.at(-1) ?? Number.NaN) } };
    console.log(`spacing of 200 endpoints every 1 s, due together: p1 ${figure.p1} ms, p50 ${figure.p50} ms, p99 ${figure.p99} ms (min ${figure.min}, max ${figure.max}, ${gaps.length} gaps); a slot's 200 starts span p50 ${figure.burstMs.p50} ms, max ${figure.burstMs.max} ms`);
    return figure;
  } finally {
    target.process.kill('SIGTERM');
    await db.close();
  }
}
