import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { v7 } from 'uuid';
import { DEFAULT_TENANT_ID, insertAuditEvent } from '@tickwise/db';
import { Retention } from '../src/retention.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.ts';

const DAY_MS = 86_400_000;

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

describe('retention', () => {
  it('prunes audit events older than the run retention, as it prunes runs', async () => {
    const now = Date.now();
    for (const daysAgo of [9, 8, 1, 0]) {
      await insertAuditEvent(db.pool, { id: v7({ msecs: now - daysAgo * DAY_MS }), tenantId: DEFAULT_TENANT_ID, actorKeyId: null, actor: 'cli (database) as ops', via: 'cli', action: 'apply', target: `${daysAgo} days ago`, summary: {} });
    }
    await new Retention({ pool: db.pool, retentionMs: 7 * DAY_MS, onError: (error) => { throw error; } }).pruneOnce(new Date(now));
    const { rows } = await db.pool.query<{ target: string }>('SELECT target FROM audit_events ORDER BY id');
    expect(rows.map((row) => row.target)).toEqual(['1 days ago', '0 days ago']);
  });
});
