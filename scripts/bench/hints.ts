/**
 * `npm run bench hints`: hint-to-effect, from a hint's commit (applyHintChanges, as the planner
 * writes it) to the re-planned next_run_at persisted, for idle machines that are not due for an
 * hour. Two scheduler processes; (a) with LISTEN/NOTIFY, (b) polling only (TICKWISE_LISTEN=false,
 * TICKWISE_HINT_POLL=1s), the path where LISTEN is missing. One hint every 20 ms, each for its own
 * endpoint. Settings: DATABASE_URL (else embedded PostgreSQL 15), BENCH_HINTS (default 500),
 * BENCH_HINT_MODES (default `notify,poll`).
 *
 * When the effect is persisted: a re-plan commits with a wake notification (notifyWake), and on each
 * one the bench reads which of its endpoints now carry the hint's plan. A row found there was
 * committed before that read started, so the read's start time is the effect time: an upper bound,
 * late by at most the previous read (~1 ms), never early.
 */
import pg from 'pg';
import { applyJobs } from '@tickwise/catalog';
import { applyHintChanges, inTransaction, newId, WAKE_CHANNEL, type Pool } from '@tickwise/db';
import { endpointInputSchema } from '@tickwise/machines';
import { BENCH_TARGET_POLICY, benchDatabase, percentile, sleep, startSchedulers, stopAll } from './setup.ts';

const HINTS = Number(process.env.BENCH_HINTS ?? 500);
const SPACING_MS = 20;
const WARM_UP = 10;
const HINT_INTERVAL_MS = 30 * 60_000;

export interface HintFigure {
  mode: 'notify' | 'poll';
  hints: number;
  p50: number;
  p99: number;
  max: number;
  /** Hints whose effect was not seen before the deadline. */
  missed: number;
}

/**
 * `count` idle endpoints an hour away from their next run, copied in bulk from one applied through
 * the catalog. The copy overrides only what differs (`jsonb_populate_record`), so it keeps up with
 * whatever columns the table gains.
 */
async function idleEndpoints(pool: Pool, count: number): Promise<string[]> {
  const job = `bench-hints-${Math.random().toString(36).slice(2, 8)}`;
  await applyJobs(pool, [{ name: job, synthetic: true, endpoints: [endpointInputSchema.parse({ name: 'template', url: 'http://127.0.0.1:9/none', schedule: { every: '1h' } })] }], { targetPolicy: BENCH_TARGET_POLICY });
  const { rows } = await pool.query<{ id: string }>(
    `WITH copies AS (
       INSERT INTO endpoints
       SELECT (jsonb_populate_record(t, jsonb_build_object(
                 'id', ids.id, 'name', 'e' || g, 'reason', 'bench', 'version', 1, 'transition_seq', 0,
                 'bucket', ('x' || right(ids.id::text, 4))::bit(16)::int % 16,
                 'next_run_at', now() + interval '1 hour' + g * interval '1 ms'))).*
         FROM endpoints t, generate_series(1, $2) AS g, LATERAL (SELECT gen_random_uuid() AS id, g AS n) ids
        WHERE t.job_id = (SELECT id FROM jobs WHERE name = $1)
       RETURNING id
     )
     SELECT id FROM copies ORDER BY id`,
    [job, count],
  );
  await pool.query(`DELETE FROM endpoint_transitions WHERE endpoint_id IN (SELECT e.id FROM endpoints e JOIN jobs j ON j.id = e.job_id WHERE j.name = $1 AND e.name = 'template')`, [job]);
  await pool.query(`DELETE FROM endpoints e USING jobs j WHERE j.id = e.job_id AND j.name = $1 AND e.name = 'template'`, [job]);
  await pool.query('VACUUM ANALYZE endpoints');
  return rows.map((row) => row.id);
}

/** Watches for re-plans: the time each endpoint's hint plan was first seen persisted. */
async function watchEffects(url: string) {
  const listener = new pg.Client({ connectionString: url, application_name: 'tickwise-bench-hints' });
  await listener.connect();
  const reader = new pg.Client({ connectionString: url, application_name: 'tickwise-bench-hints-reader' });
  await reader.connect();
  const waiting = new Set<string>();
  const effectAt = new Map<string, number>();
  let reading: Promise<void> | undefined;
  let again = false;
  const read = async () => {
    do {
      again = false;
      if (waiting.size === 0) continue;
      const startedAt = performance.now();
      const { rows } = await reader.query<{ id: string }>(`SELECT id FROM endpoints WHERE id = ANY ($1::uuid[]) AND planned_hint_version > 0 AND reason LIKE 'hint%'`, [[...waiting]]);
      for (const { id } of rows) {
        waiting.delete(id);
        effectAt.set(id, startedAt);
      }
    } while (again);
  };
  const check = () => {
    if (reading) return void (again = true);
    reading = read().finally(() => (reading = undefined));
  };
  listener.on('notification', check);
  await listener.query(`LISTEN ${WAKE_CHANNEL}`);
  // A safety net in case a wake is lost: the figures stay upper bounds either way.
  const timer = setInterval(check, 100);
  return {
    watch: (id: string) => void waiting.add(id),
    effectAt,
    pending: () => waiting.size,
    async close() {
      clearInterval(timer);
      await reading;
      await listener.end();
      await reader.end();
    },
  };
}

async function measure(mode: 'notify' | 'poll'): Promise<HintFigure> {
  const db = await benchDatabase(`tickwise_bench_hints_${mode}`);
  try {
    // Idle, an hour away from their next run: only a re-plan moves them.
    const ids = await idleEndpoints(db.pool, HINTS + WARM_UP);
    const effects = await watchEffects(db.url);
    const nodes = startSchedulers(2, db.url, { TICKWISE_HINT_POLL: '1s', ...(mode === 'poll' ? { TICKWISE_LISTEN: 'false' } : {}) });
    const committedAt = new Map<string, number>();
    const hint = async (id: string) => {
      effects.watch(id);
      await inTransaction(db.pool, (client) =>
        applyHintChanges(client, [
          { endpointId: id, add: [{ id: newId(), endpointId: id, kind: 'interval', intervalMs: HINT_INTERVAL_MS, reason: 'bench', source: 'bench', expiresAt: new Date(Date.now() + 3_600_000) }] },
        ]),
      );
      committedAt.set(id, performance.now());
    };
    try {
      // Warm-up: the processes start (and, with NOTIFY, listen) before anything is timed.
      for (const id of ids.slice(HINTS)) {
        await hint(id);
        const deadline = Date.now() + 30_000;
        while (!effects.effectAt.has(id) && Date.now() < deadline) await sleep(20);
        if (!effects.effectAt.has(id)) throw new Error(`warm-up hint for ${id} had no effect within 30s: are the scheduler processes running?`);
      }
      await sleep(1_000);
      const measured = ids.slice(0, HINTS);
      const start = performance.now();
      for (const [index, id] of measured.entries()) {
        const wait = start + index * SPACING_MS - performance.now();
        if (wait > 0) await sleep(wait);
        await hint(id);
      }
      const deadline = Date.now() + 10_000;
      while (measured.some((id) => !effects.effectAt.has(id)) && Date.now() < deadline) await sleep(50);
      const latencies = measured.flatMap((id) => (effects.effectAt.has(id) ? [effects.effectAt.get(id)! - committedAt.get(id)!] : [])).sort((a, b) => a - b);
      const figure: HintFigure = {
        mode,
        hints: measured.length,
        p50: round(percentile(latencies, 50)),
        p99: round(percentile(latencies, 99)),
        max: round(latencies.at(-1) ?? Number.NaN),
        missed: measured.length - latencies.length,
      };
      const how = mode === 'notify' ? 'with NOTIFY' : 'polling only (TICKWISE_HINT_POLL=1s)';
      console.log(`hint-to-effect ${how}, 2 scheduler processes: p50 ${figure.p50} ms, p99 ${figure.p99} ms, max ${figure.max} ms (${figure.hints} hints, ${figure.missed} without effect)`);
      return figure;
    } finally {
      await stopAll(nodes);
      await effects.close();
    }
  } finally {
    await db.close();
  }
}

function round(value: number): number {
  return Number(value.toFixed(2));
}

/** Both modes, NOTIFY first. */
export async function hintsBench(): Promise<HintFigure[]> {
  const modes = (process.env.BENCH_HINT_MODES ?? 'notify,poll').split(',') as ('notify' | 'poll')[];
  const figures: HintFigure[] = [];
  for (const mode of modes) figures.push(await measure(mode));
  return figures;
}
