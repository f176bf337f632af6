/**
 * `npm run bench commit`: PostgreSQL's CPU per run for the claim and for tickwise_commit_rows alone
 * (one connection, nothing else running), in commits of 250 runs and of 20, and what each part of a
 * commit of 250 costs: the same commit run again with that part cut out of a copy of the function
 * (the outbox event's payload, the outbox event, the run, the machine's UPDATE). The copies are made
 * from the live function's text, so they follow it; a part that can no longer be found stops the bench.
 */
import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import { cpuSeconds } from './cpu.ts';
import { benchDatabase, bulkEndpoints } from './setup.ts';

const ROWS = 20_000;
/** The throughput run's commits hold ~250 runs; at a steady load a commit holds what finished while the previous one ran: few. */
const BATCHES = [250, 20];
const ROUNDS = 3;
const ALL_BUCKETS = `{${Array.from({ length: 16 }, (_, i) => i).join(',')}}`;

/** What a variant leaves out of tickwise_commit_rows, by editing its text. */
const VARIANTS: Record<string, (body: string) => string> = {
  'the whole commit': (body) => body,
  "without the event's payload ('{}')": (body) => replaceCall(body, 'jsonb_build_object(', "'{}'::jsonb"),
  'without the outbox event': (body) => cutCte(body, 'events'),
  'without the run and its event': (body) => cutCte(cutCte(body, 'events'), 'inserted_runs'),
  "without the machine's UPDATE (the inserts only)": (body) => replaceUpdate(body),
};

export async function commitCost(): Promise<Record<string, number>> {
  const db = await benchDatabase('tickwise_bench_commit');
  const client = await db.pool.connect();
  try {
    await bulkEndpoints(db.pool, ROWS, { url: 'http://127.0.0.1:9/none', schedule: { every: '1h' } }, new Date(Date.now() - 60_000), 0);
    const { rows } = await client.query<{ body: string }>("SELECT pg_get_functiondef('tickwise_commit_rows'::regproc) AS body");
    const live = rows[0]!.body;
    const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const figures: Record<string, number> = {};
    let claimCpu = 0;
    let claimed = 0;
    const runs = (name: string, batch: number) => ({ name, batch, edit: VARIANTS[name]! });
    for (const { name, batch, edit } of [...Object.keys(VARIANTS).map((name) => runs(name, BATCHES[0]!)), runs('the whole commit', BATCHES[1]!)]) {
      await client.query(edit(live).replace('public.tickwise_commit_rows(', 'public.bench_commit_variant('));
      let cpu = 0;
      let committed = 0;
      for (let round = 0; round < ROUNDS; round++) {
        const claim = await claimAll(client, pid);
        claimCpu += claim.cpu;
        claimed += claim.rows.length;
        const batches = commitBatches(claim.rows, batch);
        const before = cpuSeconds(pid);
        for (const [runsJson, machinesJson] of batches) await client.query('SELECT * FROM bench_commit_variant($1, $2::jsonb, $3::jsonb)', ['bench', runsJson, machinesJson]);
        cpu += cpuSeconds(pid) - before;
        committed += claim.rows.length;
      }
      const key = `${name}, commits of ${batch}`;
      figures[key] = Number(((cpu * 1e6) / committed).toFixed(1));
      console.log(`commit, ${name}: ${figures[key]} µs of PostgreSQL CPU a run (${committed.toLocaleString('en')} runs in commits of ${batch})`);
    }
    figures.claim = Number(((claimCpu * 1e6) / claimed).toFixed(1));
    console.log(`claim: ${figures.claim} µs of PostgreSQL CPU a row (${claimed.toLocaleString('en')} rows, all due at once)`);
    return figures;
  } finally {
    client.release();
    await db.close();
  }
}

interface ClaimedRow {
  id: string;
  job_id: string;
  version: number;
  snapshot: { context: Record<string, unknown> };
  next_run_at: Date;
}

/** Makes every endpoint due again, then claims them all in one statement. */
async function claimAll(client: PoolClient, pid: number): Promise<{ rows: ClaimedRow[]; cpu: number }> {
  await client.query("UPDATE endpoints SET state = 'idle', lease_owner = NULL, lease_expires_at = NULL, claimed_slot = NULL, next_run_at = now() - interval '1 minute'");
  await client.query('TRUNCATE runs, run_events, endpoint_transitions');
  await client.query('VACUUM endpoints');
  const before = cpuSeconds(pid);
  const { rows } = await client.query<ClaimedRow>("SELECT id, job_id, version, snapshot, next_run_at FROM tickwise_claim_due('bench', $1, 600000, now(), $2::smallint[], '{}'::uuid[])", [ROWS, ALL_BUCKETS]);
  return { rows, cpu: cpuSeconds(pid) - before };
}

/** Each claimed machine's routine cycle (a run and its planned write), as the node sends them. */
function commitBatches(rows: readonly ClaimedRow[], batch: number): [string, string][] {
  const now = new Date();
  const next = new Date(now.getTime() + 3_600_000);
  const batches: [string, string][] = [];
  for (let start = 0; start < rows.length; start += batch) {
    const part = rows.slice(start, start + batch);
    const runs = part.map((row) => [randomUUID(), row.id, row.job_id, row.next_run_at, 1, true, 'bench', 'succeeded', 200, 1.5, now, now, null, null, null, false, 'baseline', null]);
    const machines = part.map((row, index) => [
      row.id, row.version, 'idle', { ...row.snapshot, value: 'idle', context: { ...row.snapshot.context, nextRunAt: next } }, next, 'every 1h', null, [], null, null, null, now, runs[index]![0],
    ]);
    batches.push([JSON.stringify(runs), JSON.stringify(machines)]);
  }
  return batches;
}

/** Removes the CTE `name AS (...)`: from its opening to the next CTE's, or to the final SELECT. */
function cutCte(body: string, name: string): string {
  const opening = new RegExp(`\\n\\s*\\), ${name} AS \\(`).exec(body);
  if (!opening) throw new Error(`bench commit: no CTE ${name} in tickwise_commit_rows`);
  const rest = body.slice(opening.index + 1);
  const next = /\n\s*\), \w+ AS \(|\n\s*\)\n\s*SELECT w\.id/.exec(rest);
  if (!next) throw new Error(`bench commit: no end to CTE ${name} in tickwise_commit_rows`);
  return body.slice(0, opening.index) + rest.slice(next.index);
}

/** Replaces the first call of `opening` (with its arguments, parentheses matched) by `by`. */
function replaceCall(body: string, opening: string, by: string): string {
  const start = body.indexOf(opening);
  if (start < 0) throw new Error(`bench commit: no ${opening} in tickwise_commit_rows`);
  let depth = 0;
  for (let at = start + opening.length - 1; at < body.length; at++) {
    if (body[at] === '(') depth++;
    else if (body[at] === ')' && --depth === 0) return body.slice(0, start) + by + body.slice(at + 1);
  }
  throw new Error(`bench commit: unbalanced ${opening}`);
}

/** The machine's UPDATE replaced by a SELECT of what it would return, so the rest runs as before. */
function replaceUpdate(body: string): string {
  const start = body.indexOf('UPDATE endpoints e');
  const returning = body.indexOf('RETURNING e.id', start);
  const end = body.indexOf('\n', returning);
  if (start < 0 || returning < 0) throw new Error("bench commit: no machine UPDATE in tickwise_commit_rows");
  const select =
    'SELECT m.id, m.expected_version + 1 AS version, 1::bigint AS transition_seq, m.state, m.reason, m.next_run_at, m.transitions, m.notice, ' +
    'm.routine_claimed_at, m.routine_run_id, NULL::text AS paused_reason, NULL::timestamptz AS paused_until FROM machines m';
  return body.slice(0, start) + select + body.slice(end);
}
