import { createHash, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dbError } from './errors.ts';
import { detectFlavour, type DbFlavour, type Pool } from './pool.ts';

export const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'migrations');

export interface MigrationStep {
  migration: string;
  name: string;
  sql: string;
  checksum: string;
}

const STEP_HEADER = /^--- step ([a-z0-9_]+)(?: only=(postgres|yugabyte))?\s*$/gm;
/** A line meant as a step header. One that STEP_HEADER does not match would silently become SQL of the step above. */
const HEADER_LIKE = /^---[ \t]*step\b.*$/gm;
const VALID_HEADER = /^--- step [a-z0-9_]+(?: only=(?:postgres|yugabyte))?\s*$/;

/**
 * Splits one migration file into steps for a flavour. A step marked `only=<flavour>` exists in
 * that flavour alone; two variants share a name so the history reads the same everywhere. Pure.
 */
export function parseMigration(migration: string, text: string, flavour: DbFlavour): MigrationStep[] {
  for (const [line] of text.matchAll(HEADER_LIKE)) {
    if (!VALID_HEADER.test(line)) throw dbError('migration_invalid', `migration ${migration} has a malformed step header "${line.trim()}" (expected "--- step <name>" with an optional " only=postgres" or " only=yugabyte")`);
  }
  const headers = [...text.matchAll(STEP_HEADER)];
  if (headers.length === 0) throw dbError('migration_invalid', `migration ${migration} has no "--- step <name>" line`);
  // Every variant is checked whatever the flavour, so a broken YugabyteDB step fails on PostgreSQL too.
  const steps: MigrationStep[] = [];
  const seen = { postgres: new Set<string>(), yugabyte: new Set<string>() };
  headers.forEach((header, index) => {
    const [, name, only] = header as unknown as [string, string, DbFlavour | undefined];
    const end = headers[index + 1]?.index ?? text.length;
    const sql = text.slice(header.index! + header[0].length, end).trim();
    if (sql === '') throw dbError('migration_invalid', `migration ${migration} step "${name}" is empty`);
    for (const each of only ? [only] : (['postgres', 'yugabyte'] as const)) {
      if (seen[each].has(name)) throw dbError('migration_invalid', `migration ${migration} has step "${name}" twice for ${each}`);
      seen[each].add(name);
    }
    if (only === undefined || only === flavour) steps.push({ migration, name, sql, checksum: createHash('sha256').update(sql).digest('hex').slice(0, 16) });
  });
  return steps;
}

export function loadMigrations(flavour: DbFlavour, dir = MIGRATIONS_DIR): MigrationStep[] {
  const files = readdirSync(dir).filter((file) => /^\d{4}_[a-z0-9_]+\.sql$/.test(file)).sort();
  return files.flatMap((file) => parseMigration(file.replace(/\.sql$/, ''), readFileSync(join(dir, file), 'utf8'), flavour));
}

export interface MigrateResult {
  flavour: DbFlavour;
  applied: string[];
}

const LOCK_TTL_SECONDS = 120;

/**
 * Brings the schema up to date: each step on its own (no DDL in transactions, which YugabyteDB
 * lacks), recorded in `tickwise_migrations`. Concurrent runners take turns through a lease row
 * (advisory locks do not exist on YugabyteDB 2024.x). An applied step that was edited is an error.
 */
export async function migrate(pool: Pool, options: { lockTimeoutMs?: number; log?: (line: string) => void } = {}): Promise<MigrateResult> {
  const flavour = await detectFlavour(pool);
  await bootstrap(pool);
  const owner = randomUUID();
  await acquireLock(pool, owner, options.lockTimeoutMs ?? 60_000);
  try {
    const { rows } = await pool.query<{ migration: string; step: string; checksum: string }>('SELECT migration, step, checksum FROM tickwise_migrations');
    const done = new Map(rows.map((row) => [`${row.migration}/${row.step}`, row.checksum]));
    const applied: string[] = [];
    for (const step of loadMigrations(flavour)) {
      const key = `${step.migration}/${step.name}`;
      const checksum = done.get(key);
      if (checksum !== undefined) {
        if (checksum !== step.checksum) {
          throw dbError('migration_changed', `migration step ${key} was edited after it was applied; add a new migration instead`);
        }
        continue;
      }
      await pool.query(step.sql);
      await pool.query('INSERT INTO tickwise_migrations (migration, step, checksum) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [step.migration, step.name, step.checksum]);
      await pool.query("UPDATE tickwise_migration_lock SET expires_at = now() + make_interval(secs => $2) WHERE id = 1 AND owner = $1", [owner, LOCK_TTL_SECONDS]);
      options.log?.(`applied ${key}`);
      applied.push(key);
    }
    return { flavour, applied };
  } finally {
    await pool.query('DELETE FROM tickwise_migration_lock WHERE id = 1 AND owner = $1', [owner]).catch(() => undefined);
  }
}

async function bootstrap(pool: Pool): Promise<void> {
  const statements = [
    `CREATE TABLE IF NOT EXISTS tickwise_migrations (
       migration text NOT NULL, step text NOT NULL, checksum text NOT NULL,
       applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (migration, step))`,
    `CREATE TABLE IF NOT EXISTS tickwise_migration_lock (id integer PRIMARY KEY, owner text NOT NULL, expires_at timestamptz NOT NULL)`,
  ];
  for (const sql of statements) {
    for (let attempt = 1; ; attempt++) {
      try {
        await pool.query(sql);
        break;
      } catch (error) {
        // Two runners creating the same table at once: one of them sees a duplicate (of the table,
        // of its row type: 42710, or of a catalog key); try again.
        const code = (error as { code?: string }).code;
        if ((code !== '23505' && code !== '42P07' && code !== '42710') || attempt >= 5) throw error;
      }
    }
  }
}

async function acquireLock(pool: Pool, owner: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rowCount } = await pool.query(
      `INSERT INTO tickwise_migration_lock (id, owner, expires_at) VALUES (1, $1, now() + make_interval(secs => $2))
       ON CONFLICT (id) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
       WHERE tickwise_migration_lock.expires_at < now()`,
      [owner, LOCK_TTL_SECONDS],
    );
    if (rowCount === 1) return;
    if (Date.now() > deadline) {
      throw dbError('migration_lock_timeout', `another migration runner held the lock for more than ${Math.round(timeoutMs / 1000)}s (table tickwise_migration_lock)`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Steps not applied yet (all of them on an empty database). */
export async function pendingMigrations(pool: Pool): Promise<string[]> {
  const flavour = await detectFlavour(pool);
  const { rows: exists } = await pool.query<{ present: boolean }>("SELECT to_regclass('tickwise_migrations') IS NOT NULL AS present");
  const applied = new Set<string>();
  if (exists[0]?.present) {
    const { rows } = await pool.query<{ key: string }>("SELECT migration || '/' || step AS key FROM tickwise_migrations");
    for (const row of rows) applied.add(row.key);
  }
  return loadMigrations(flavour).map((step) => `${step.migration}/${step.name}`).filter((key) => !applied.has(key));
}
