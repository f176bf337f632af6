import { afterEach, describe, expect, it } from 'vitest';
import { archiveEndpoints, DEFAULT_TENANT_ID, insertEndpoints, insertJob, loadMigrations, migrate, newId, updateEndpointSpec, type Pool } from '@tickwise/db';
import { createEmptyDatabase, createTestDatabase, type TestDatabase } from '../../test/support/database.ts';

/** An endpoint as the catalog inserts it; spec and snapshot do not matter to its name. */
const named = (name: string) => ({ id: newId(), name, spec: {} as never, bucket: 0, state: 'idle' as const, snapshot: {} as never });

async function names(pool: Pool): Promise<{ endpoint_id: string; tenant_id: string; job_id: string; name: string; archived: boolean }[]> {
  const { rows } = await pool.query('SELECT endpoint_id, tenant_id, job_id, name, archived_at IS NOT NULL AS archived FROM endpoint_names ORDER BY name');
  return rows;
}

async function indexesOf(pool: Pool, table: string): Promise<string[]> {
  const { rows } = await pool.query<{ indexname: string }>('SELECT indexname FROM pg_indexes WHERE tablename = $1 ORDER BY indexname', [table]);
  return rows.map((row) => row.indexname);
}

describe('endpoint_names (migration 0013)', () => {
  let db: TestDatabase;
  afterEach(async () => {
    await db.drop();
  });

  it('leaves the machine table with only the indexes claims and commits need; names and tenants are indexed on endpoint_names', async () => {
    db = await createTestDatabase();
    expect(await indexesOf(db.pool, 'endpoints')).toEqual(['endpoints_due_idx', 'endpoints_hints_pending_idx', 'endpoints_lease_idx', 'endpoints_pkey']);
    expect(await indexesOf(db.pool, 'endpoint_names')).toEqual(['endpoint_names_job_name_key', 'endpoint_names_pkey', 'endpoint_names_tenant_idx']);
  });

  it('gives every inserted endpoint its name row in the same statement, and refuses a name taken in the job with nothing written', async () => {
    db = await createTestDatabase();
    const jobId = newId();
    await insertJob(db.pool, { id: jobId, tenantId: DEFAULT_TENANT_ID, name: 'billing', synthetic: false });
    const [first, second] = [named('a'), named('b')];
    await insertEndpoints(db.pool, jobId, [first, second]);
    expect(await names(db.pool)).toEqual([
      { endpoint_id: first.id, tenant_id: DEFAULT_TENANT_ID, job_id: jobId, name: 'a', archived: false },
      { endpoint_id: second.id, tenant_id: DEFAULT_TENANT_ID, job_id: jobId, name: 'b', archived: false },
    ]);
    // One new name and one taken: the statement fails as a unique violation, neither is written.
    await expect(insertEndpoints(db.pool, jobId, [named('c'), named('a')])).rejects.toMatchObject({ code: '23505', constraint: 'endpoint_names_job_name_key' });
    const { rows } = await db.pool.query('SELECT name FROM endpoints ORDER BY name');
    expect(rows).toEqual([{ name: 'a' }, { name: 'b' }]);
    expect((await names(db.pool)).map((row) => row.name)).toEqual(['a', 'b']);
    // The same name in another job is another endpoint.
    const otherJob = newId();
    await insertJob(db.pool, { id: otherJob, tenantId: DEFAULT_TENANT_ID, name: 'reports', synthetic: false });
    await insertEndpoints(db.pool, otherJob, [named('a')]);
    expect((await names(db.pool)).filter((row) => row.name === 'a').map((row) => row.job_id).sort()).toEqual([jobId, otherJob].sort());
  });

  it('follows archiving and un-archiving (by the catalog or by hand), and leaves with its endpoint', async () => {
    db = await createTestDatabase();
    const jobId = newId();
    await insertJob(db.pool, { id: jobId, tenantId: DEFAULT_TENANT_ID, name: 'billing', synthetic: false });
    const endpoint = named('a');
    await insertEndpoints(db.pool, jobId, [endpoint]);
    await archiveEndpoints(db.pool, [endpoint.id]);
    expect((await names(db.pool))[0]!.archived).toBe(true);
    await updateEndpointSpec(db.pool, endpoint.id, {} as never);
    expect((await names(db.pool))[0]!.archived).toBe(false);
    await db.pool.query('UPDATE endpoints SET archived_at = now() WHERE id = $1', [endpoint.id]);
    const { rows } = await db.pool.query('SELECT e.archived_at = n.archived_at AS same FROM endpoints e JOIN endpoint_names n ON n.endpoint_id = e.id');
    expect(rows).toEqual([{ same: true }]);
    await db.pool.query('DELETE FROM endpoints WHERE id = $1', [endpoint.id]);
    expect(await names(db.pool)).toEqual([]);
  });

  it('names the endpoints that existed before it, archived ones as archived, and every step runs again over its own result', async () => {
    db = await createEmptyDatabase();
    for (const step of loadMigrations('postgres').filter((each) => each.migration < '0013')) await db.pool.query(step.sql);
    const jobId = newId();
    await insertJob(db.pool, { id: jobId, tenantId: DEFAULT_TENANT_ID, name: 'legacy', synthetic: false });
    const [live, archived] = [named('live'), named('old')];
    await insertEndpoints(db.pool, jobId, [live, archived]);
    await db.pool.query('UPDATE endpoints SET archived_at = now() WHERE id = $1', [archived.id]);
    await migrate(db.pool);
    expect(await names(db.pool)).toEqual([
      { endpoint_id: live.id, tenant_id: DEFAULT_TENANT_ID, job_id: jobId, name: 'live', archived: false },
      { endpoint_id: archived.id, tenant_id: DEFAULT_TENANT_ID, job_id: jobId, name: 'old', archived: true },
    ]);
    for (const step of loadMigrations('postgres').filter((each) => each.migration.startsWith('0013'))) await db.pool.query(step.sql);
    expect(await names(db.pool)).toHaveLength(2);
    const { rows } = await db.pool.query("SELECT tgname FROM pg_trigger WHERE tgrelid = 'endpoints'::regclass AND NOT tgisinternal ORDER BY tgname");
    expect(rows).toEqual([{ tgname: 'endpoints_archive' }, { tgname: 'endpoints_name' }]);
  });
});
