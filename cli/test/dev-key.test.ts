import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TENANT_ID, listApiKeys, newId } from '@tickwise/db';
import { authenticate } from '@tickwise/gateway';
import { freshDevKey } from '../dev/dev-key.ts';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { memoryLogger } from '../../test/support/logger.ts';

describe('the admin key tickwise dev makes at every start', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('is an admin key of the default tenant, and revokes the dev keys of earlier starts', async () => {
    const first = await freshDevKey(db.pool);
    expect(first).toMatchObject({ tenant: 'default', revoked: 0 });
    expect(await authenticate(db.pool, `Bearer ${first.key}`, memoryLogger())).toMatchObject({ tenantId: DEFAULT_TENANT_ID, role: 'admin' });
    const second = await freshDevKey(db.pool);
    expect(second.revoked).toBe(1);
    await expect(authenticate(db.pool, `Bearer ${first.key}`, memoryLogger())).rejects.toThrow('invalid or revoked API key');
    expect(await authenticate(db.pool, `Bearer ${second.key}`, memoryLogger())).toMatchObject({ tenantId: DEFAULT_TENANT_ID, role: 'admin' });
    const keys = await listApiKeys(db.pool, DEFAULT_TENANT_ID);
    expect(keys.filter((key) => key.name === 'dev' && key.revokedAt === null)).toHaveLength(1);
  });

  it('creates the default tenant when it is missing, and says why when another tenant took its name', async () => {
    await db.pool.query('DELETE FROM api_keys WHERE tenant_id = $1', [DEFAULT_TENANT_ID]);
    await db.pool.query('DELETE FROM tenants WHERE id = $1', [DEFAULT_TENANT_ID]);
    expect((await freshDevKey(db.pool)).tenant).toBe('default');

    await db.pool.query('DELETE FROM api_keys WHERE tenant_id = $1', [DEFAULT_TENANT_ID]);
    await db.pool.query('DELETE FROM tenants WHERE id = $1', [DEFAULT_TENANT_ID]);
    await db.pool.query("INSERT INTO tenants (id, name) VALUES ($1, 'default')", [newId()]);
    await expect(freshDevKey(db.pool)).rejects.toThrow(`could not create the default tenant (id ${DEFAULT_TENANT_ID}): another tenant is named "default"; rename it`);
  });
});
