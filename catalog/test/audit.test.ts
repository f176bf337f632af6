import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyJobs, type AuditActor, type JobInput } from '@tickwise/catalog';
import { DEFAULT_TENANT_ID } from '@tickwise/db';
import { endpointInputSchema } from '@tickwise/machines';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { TEST_TARGET_POLICY } from '../../test/support/targets.ts';

// An apply that names its actor records itself in its own transaction: with the changes it made,
// and not at all when it changes nothing in the end (a dry run, a refusal inside the transaction).

const actor: AuditActor = { actorKeyId: null, actor: 'cli (database) as ops', via: 'cli', action: 'apply' };
const targetPolicy = TEST_TARGET_POLICY;
const job = (name: string, every = '1h'): JobInput => ({ name, synthetic: false, endpoints: [endpointInputSchema.parse({ name: 'poll', url: 'http://127.0.0.1:1/poll', schedule: { every } })] });

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

const events = async () => (await db.pool.query('SELECT tenant_id, actor, via, action, target, summary FROM audit_events ORDER BY id')).rows;

describe('applyJobs with an audit actor', () => {
  it('records the change list in the apply\'s transaction, and nothing for a dry run or a refused apply', async () => {
    await applyJobs(db.pool, [job('billing'), job('reports')], { audit: actor, targetPolicy });
    await applyJobs(db.pool, [job('billing', '2h')], { audit: actor, targetPolicy, dryRun: true });
    await expect(applyJobs(db.pool, [job('billing', '2h'), job('third')], { audit: actor, targetPolicy, maxJobs: 2 })).rejects.toMatchObject({ code: 'resource_exhausted' });
    await applyJobs(db.pool, [job('billing', '2h'), job('reports')], { audit: actor, targetPolicy });
    expect(await events()).toEqual([
      {
        tenant_id: DEFAULT_TENANT_ID,
        actor: 'cli (database) as ops',
        via: 'cli',
        action: 'apply',
        target: 'jobs billing, reports',
        summary: { changes: [{ job: 'billing', action: 'created' }, { job: 'billing', endpoint: 'poll', action: 'created' }, { job: 'reports', action: 'created' }, { job: 'reports', endpoint: 'poll', action: 'created' }], unchanged: 0 },
      },
      { tenant_id: DEFAULT_TENANT_ID, actor: 'cli (database) as ops', via: 'cli', action: 'apply', target: 'jobs billing, reports', summary: { changes: [{ job: 'billing', endpoint: 'poll', action: 'updated' }], unchanged: 1 } },
    ]);
  });
});
