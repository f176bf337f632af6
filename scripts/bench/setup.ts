import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { applyJobs } from '@tickwise/catalog';
import { createPool, migrate, startEmbeddedPostgres, type Pool } from '@tickwise/db';
import { endpointInputSchema } from '@tickwise/machines';
import { parseTargetPolicy } from '@tickwise/platform';
import { freePort } from '../../test/support/ports.ts';

export interface BenchDatabase {
  url: string;
  /** The embedded server's postmaster (undefined on DATABASE_URL's server): whose CPU is counted. */
  postmasterPid?: number;
  pool: Pool;
  close(): Promise<void>;
}

/** A fresh, migrated database: on DATABASE_URL's server when set, else on an embedded PostgreSQL 15. */
export async function benchDatabase(name: string): Promise<BenchDatabase> {
  let adminUrl = process.env.DATABASE_URL;
  let stopServer = async () => {};
  let postmasterPid: number | undefined;
  if (!adminUrl) {
    const dataDir = mkdtempSync(join(tmpdir(), 'tickwise-bench-'));
    const server = await startEmbeddedPostgres({ dataDir, port: await freePort(), settings: { shared_buffers: '512MB', track_functions: 'all', ...(process.env.BENCH_STATEMENTS ? { shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.track': 'all' } : {}), ...(process.env.BENCH_LOCK_LOG ? { log_lock_waits: 'on', deadlock_timeout: '20ms' } : {}) }, log: process.env.BENCH_LOCK_LOG ? (line) => console.error(line) : undefined });
    adminUrl = server.urlFor('postgres');
    postmasterPid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    stopServer = async () => {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    };
  }
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  // No query timeout: filling a million rows or a VACUUM may rightly take longer than the default's 10 s.
  const pool = createPool({ connectionString: url.toString(), max: 4, queryTimeoutMs: 0 });
  await migrate(pool);
  if (process.env.BENCH_SQL) await pool.query(readFileSync(process.env.BENCH_SQL, 'utf8'));
  return {
    url: url.toString(),
    postmasterPid,
    pool,
    async close() {
      if (process.env.BENCH_STATEMENTS) {
        await pool.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
        const { rows } = await pool.query(
          `SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 90) AS query, calls, round(total_exec_time) AS total_ms, rows
             FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
            ORDER BY total_exec_time DESC LIMIT 12`,
        );
        console.table(rows);
      }
      if (process.env.BENCH_FUNCTION_STATS) {
        const { rows } = await pool.query('SELECT funcname, calls, round(total_time) AS total_ms, round(self_time) AS self_ms FROM pg_stat_user_functions ORDER BY total_time DESC');
        console.table(rows);
      }
      await pool.end();
      const again = new pg.Client({ connectionString: adminUrl });
      await again.connect();
      await again.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await again.end();
      await stopServer();
    },
  };
}

/** The bench's targets are on this machine (loopback): it opts in to private targets, as an operator would. */
export const BENCH_TARGET_POLICY = parseTargetPolicy({ allowPrivate: true });

/**
 * Creates `count` endpoints like one applied through the catalog, in bulk SQL: same spec and
 * snapshot, idle, with next_run_at = start + i * spacingMs.
 */
export async function bulkEndpoints(pool: Pool, count: number, spec: Record<string, unknown>, start: Date, spacingMs: number): Promise<void> {
  const job = `bench-${Math.random().toString(36).slice(2, 8)}`;
  await applyJobs(pool, [{ name: job, synthetic: true, endpoints: [endpointInputSchema.parse({ name: 'template', ...spec })] }], { targetPolicy: BENCH_TARGET_POLICY });
  const { rows } = await pool.query<{ id: string; job_id: string }>('SELECT n.endpoint_id AS id, n.job_id FROM endpoint_names n JOIN jobs j ON j.id = n.job_id WHERE j.name = $1', [job]);
  const template = rows[0]!;
  for (let done = 0; done < count; done += 100_000) {
    const size = Math.min(100_000, count - done);
    await pool.query(
      `INSERT INTO endpoints (id, job_id, tenant_id, name, spec, bucket, state, snapshot, next_run_at, reason, version)
       SELECT ids.new_id, t.job_id, t.tenant_id, 'e' || (g + $3), t.spec, (('x' || right(ids.new_id::text, 4))::bit(16)::int % 16)::smallint, 'idle', t.snapshot,
              $4::timestamptz + make_interval(secs => (g + $3) * $5::float8 / 1000.0), 'bench', 1
         FROM endpoints t, generate_series(0, $2 - 1) AS g, LATERAL (SELECT gen_random_uuid() AS new_id, g AS n) ids
        WHERE t.id = $1`,
      [template.id, size, done, start, spacingMs],
    );
  }
  await pool.query('DELETE FROM endpoint_transitions WHERE endpoint_id = $1', [template.id]);
  await pool.query('DELETE FROM endpoints WHERE id = $1', [template.id]);
  // As a table in steady state would be: visibility known, statistics fresh.
  await pool.query('VACUUM ANALYZE endpoints');
  await pool.query('VACUUM ANALYZE endpoint_names');
}

/**
 * The no-op target, a process of its own. It stands for a service on another machine, so by default
 * it runs at a higher priority (`nice -n -10`, BENCH_TARGET_NICE; 0: as the rest): on a shared 2-core
 * box it would otherwise answer whenever the scheduler and PostgreSQL leave it a core, and what it
 * counts (calls/s, an endpoint's spacing) would measure that wait. Without the right to raise
 * priority, nice warns and runs it as is.
 */
export function startTarget(): Promise<{ url: string; process: ChildProcess }> {
  const niceness = process.env.BENCH_TARGET_NICE ?? '-10';
  const script = new URL('./noop-target.mjs', import.meta.url).pathname;
  const child = niceness === '0' ? spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] }) : spawn('nice', ['-n', niceness, process.execPath, script], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', (chunk: Buffer) => resolve({ url: `http://127.0.0.1:${chunk.toString().trim()}`, process: child }));
    child.once('exit', (code) => reject(new Error(`no-op target exited with ${code}`)));
  });
}

export interface TargetCount {
  calls: number;
  /** Connections the target accepted. */
  connections: number;
  /** From the target's first call to its last. */
  seconds: number;
  perSecond: number;
}

/** What the no-op target has answered so far (see noop-target.mjs). */
export async function targetCount(targetUrl: string): Promise<TargetCount> {
  const response = await fetch(`${targetUrl}/__stats`);
  const { calls, firstMs, lastMs, connections } = (await response.json()) as { calls: number; firstMs: number; lastMs: number; connections: number };
  const seconds = (lastMs - firstMs) / 1_000;
  return { calls, connections, seconds, perSecond: seconds > 0 ? Math.round(calls / seconds) : 0 };
}

/** Scheduler nodes as separate processes, as in production (`tickwise scheduler`). */
export function startSchedulers(count: number, url: string, env: Record<string, string>): ChildProcess[] {
  const repo = new URL('../../', import.meta.url).pathname;
  return Array.from({ length: count }, (_, index) =>
    spawn(process.execPath, [...(process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []), 'bin/tickwise.mjs', 'scheduler'], {
      cwd: repo,
      env: { ...process.env, DATABASE_URL: url, TICKWISE_WORKER_ID: `bench-${index}`, TICKWISE_LOG_LEVEL: 'warn', TICKWISE_LOG_FORMAT: 'json', TICKWISE_PRUNE: 'false', TICKWISE_OPS_PORT: 'off', TICKWISE_ALLOW_PRIVATE_TARGETS: 'true', ...env },
      stdio: ['ignore', 'inherit', 'inherit'],
    }),
  );
}

export async function stopAll(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        }),
    ),
  );
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
