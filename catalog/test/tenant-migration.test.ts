import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_TENANT_ID, loadMigrations, migrate, newId } from '@tickwise/db';
import { createEmptyDatabase, type TestDatabase } from '../../test/support/database.ts';

describe('migration 0004_tenants', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createEmptyDatabase();
  });
  afterEach(async () => {
    await db.drop();
  });

  it('gives rows that existed before tenants to the default tenant, and makes job names unique per tenant', async () => {
    // The schema as it was before 0004, with a job and an endpoint in it.
    for (const step of loadMigrations('postgres').filter((each) => each.migration < '0004')) await db.pool.query(step.sql);
    const jobId = newId();
    const endpointId = newId();
    await db.pool.query("INSERT INTO jobs (id, name) VALUES ($1, 'legacy')", [jobId]);
    await db.pool.query(
      `INSERT INTO endpoints (id, job_id, name, spec, bucket, state, snapshot) VALUES ($1, $2, 'old', '{}', 0, 'idle', '{}')`,
      [endpointId, jobId],
    );
    // migrate() runs every step, the earlier ones again (they are idempotent), then 0004 on.
    await migrate(db.pool);
    const { rows: jobs } = await db.pool.query('SELECT tenant_id FROM jobs WHERE id = $1', [jobId]);
    const { rows: endpoints } = await db.pool.query('SELECT tenant_id FROM endpoints WHERE id = $1', [endpointId]);
    expect(jobs).toEqual([{ tenant_id: DEFAULT_TENANT_ID }]);
    expect(endpoints).toEqual([{ tenant_id: DEFAULT_TENANT_ID }]);
    const { rows: tenants } = await db.pool.query('SELECT id, name FROM tenants');
    expect(tenants).toEqual([{ id: DEFAULT_TENANT_ID, name: 'default' }]);
    const other = newId();
    await db.pool.query("INSERT INTO tenants (id, name) VALUES ($1, 'other')", [other]);
    await db.pool.query("INSERT INTO jobs (id, tenant_id, name) VALUES ($1, $2, 'legacy')", [newId(), other]);
    await expect(db.pool.query("INSERT INTO jobs (id, tenant_id, name) VALUES ($1, $2, 'legacy')", [newId(), other])).rejects.toMatchObject({ code: '23505' });
    await expect(db.pool.query("INSERT INTO jobs (id, name) VALUES ($1, 'no-tenant')", [newId()])).rejects.toMatchObject({ code: '23502' });
    // Every step of 0004 can run again over its own result.
    for (const step of loadMigrations('postgres').filter((each) => each.migration.startsWith('0004'))) await db.pool.query(step.sql);
  });
});
