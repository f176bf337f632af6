import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadMigrations, migrate, pendingMigrations } from '@tickwise/db';
import { TickwiseError } from '@tickwise/platform';
import { createEmptyDatabase, type TestDatabase } from '../../test/support/database.ts';

const ALL_STEPS = loadMigrations('postgres').map((step) => `${step.migration}/${step.name}`);

async function failureOf(promise: Promise<unknown>): Promise<TickwiseError> {
  const error = await promise.then(
    () => {
      throw new Error('expected the promise to reject');
    },
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(TickwiseError);
  return error as TickwiseError;
}

async function schemaObjects(db: TestDatabase) {
  const { rows } = await db.pool.query<{ tables: string[]; functions: string[]; views: string[] }>(
    `SELECT
       (SELECT array_agg(c.relname::text ORDER BY c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind = 'r') AS tables,
       (SELECT array_agg(p.proname::text ORDER BY p.proname) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = 'public') AS functions,
       (SELECT array_agg(c.relname::text ORDER BY c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind = 'v') AS views`,
  );
  return { tables: rows[0]!.tables ?? [], functions: rows[0]!.functions ?? [], views: rows[0]!.views ?? [] };
}

async function expectCompleteSchema(db: TestDatabase): Promise<void> {
  const objects = await schemaObjects(db);
  expect(objects.tables).toEqual(
    expect.arrayContaining(['jobs', 'endpoints', 'runs', 'endpoint_transitions', 'hints', 'tickwise_migrations', 'tickwise_migration_lock']),
  );
  expect(objects.functions).toEqual(
    expect.arrayContaining([
      'tickwise_uuid7_floor',
      'tickwise_claim_due',
      'tickwise_next_due_at',
      'tickwise_take_over_expired',
      'tickwise_take_over_expired_from',
      'tickwise_renew_leases',
      'tickwise_mark_running',
      'tickwise_commit',
      'tickwise_commit_rows',
      'tickwise_prune',
    ]),
  );
  expect(objects.views).toEqual(['tickwise_overview']);
  const { rows: indexes } = await db.pool.query<{ indexname: string }>("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'");
  expect(indexes.map((row) => row.indexname)).toEqual(expect.arrayContaining(['endpoints_due_idx', 'endpoints_lease_idx', 'runs_endpoint_idx', 'hints_endpoint_idx']));
  const { rows: recorded } = await db.pool.query<{ key: string }>("SELECT migration || '/' || step AS key FROM tickwise_migrations ORDER BY 1");
  expect(recorded.map((row) => row.key).sort()).toEqual([...ALL_STEPS].sort());
}

describe('migrate', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createEmptyDatabase();
  });
  afterEach(async () => {
    await db.drop();
  });

  it('applies every step on an empty database, and none on a second run', async () => {
    expect(ALL_STEPS.length).toBeGreaterThan(10);
    expect(await pendingMigrations(db.pool)).toEqual(ALL_STEPS);

    const logged: string[] = [];
    const first = await migrate(db.pool, { log: (line) => logged.push(line) });
    expect(first.flavour).toBe('postgres');
    expect(first.applied).toEqual(ALL_STEPS);
    expect(logged).toEqual(ALL_STEPS.map((key) => `applied ${key}`));
    expect(await pendingMigrations(db.pool)).toEqual([]);
    await expectCompleteSchema(db);

    const second = await migrate(db.pool);
    expect(second.applied).toEqual([]);
    expect(await pendingMigrations(db.pool)).toEqual([]);
    // The lock is handed back after each run.
    const { rows } = await db.pool.query('SELECT * FROM tickwise_migration_lock');
    expect(rows).toEqual([]);
  });

  it('reports only the steps that are not applied yet', async () => {
    await migrate(db.pool);
    await db.pool.query("DELETE FROM tickwise_migrations WHERE migration = '0002_queue_functions' AND step IN ('tickwise_prune', 'tickwise_overview')");
    expect(await pendingMigrations(db.pool)).toEqual(['0002_queue_functions/tickwise_prune', '0002_queue_functions/tickwise_overview']);
    // Steps are idempotent: running them again over the existing objects works.
    const again = await migrate(db.pool);
    expect(again.applied).toEqual(['0002_queue_functions/tickwise_prune', '0002_queue_functions/tickwise_overview']);
    expect(await pendingMigrations(db.pool)).toEqual([]);
  });

  it('lets three runners started at once on an empty database all succeed, each step applied once', async () => {
    const results = await Promise.all([migrate(db.pool), migrate(db.pool), migrate(db.pool)]);
    const applied = results.flatMap((result) => result.applied);
    expect([...applied].sort()).toEqual([...ALL_STEPS].sort());
    expect(new Set(applied).size).toBe(applied.length);
    expect(await pendingMigrations(db.pool)).toEqual([]);
    await expectCompleteSchema(db);
    const { rows } = await db.pool.query('SELECT * FROM tickwise_migration_lock');
    expect(rows).toEqual([]);
  });

  it('refuses to run when an applied step was edited, naming the step, and hands the lock back', async () => {
    await migrate(db.pool);
    await db.pool.query("UPDATE tickwise_migrations SET checksum = 'x' WHERE migration = '0001_core' AND step = 'endpoints'");
    const error = await failureOf(migrate(db.pool));
    expect(error.reason).toBe('migration_changed');
    expect(error.message).toContain('0001_core/endpoints');
    const { rows } = await db.pool.query('SELECT * FROM tickwise_migration_lock');
    expect(rows).toEqual([]);
  });

  it('times out with migration_lock_timeout while another runner holds the lock, and leaves that lock alone', async () => {
    await migrate(db.pool);
    await db.pool.query("INSERT INTO tickwise_migration_lock (id, owner, expires_at) VALUES (1, 'someone-else', now() + interval '10 minutes')");
    await db.pool.query("DELETE FROM tickwise_migrations WHERE step = 'tickwise_overview'");
    const error = await failureOf(migrate(db.pool, { lockTimeoutMs: 500 }));
    expect(error.reason).toBe('migration_lock_timeout');
    expect(error.message).toContain('tickwise_migration_lock');
    const { rows } = await db.pool.query<{ owner: string }>('SELECT owner FROM tickwise_migration_lock');
    expect(rows.map((row) => row.owner)).toEqual(['someone-else']);
    expect(await pendingMigrations(db.pool)).toEqual(['0002_queue_functions/tickwise_overview']);
  });

  it('takes over a lock whose holder let it expire', async () => {
    await migrate(db.pool);
    await db.pool.query("INSERT INTO tickwise_migration_lock (id, owner, expires_at) VALUES (1, 'crashed-runner', now() - interval '1 second')");
    await db.pool.query("DELETE FROM tickwise_migrations WHERE step = 'tickwise_overview'");
    const result = await migrate(db.pool, { lockTimeoutMs: 500 });
    expect(result.applied).toEqual(['0002_queue_functions/tickwise_overview']);
    const { rows } = await db.pool.query('SELECT * FROM tickwise_migration_lock');
    expect(rows).toEqual([]);
  });
});
