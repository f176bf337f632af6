/** audit_events: insert, list (newest first, pages, since, per tenant) and prune by the ids' time. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { v7 } from 'uuid';
import { insertAuditEvent, listAuditEvents, pruneAuditEvents, type NewAuditEvent } from '@tickwise/db';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';

const HOUR_MS = 3_600_000;
const A = '00000000-0000-7000-8000-00000000000a';
const B = '00000000-0000-7000-8000-00000000000b';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

const event = (tenantId: string, hoursAgo: number, target: string): NewAuditEvent => ({
  id: v7({ msecs: Date.now() - hoursAgo * HOUR_MS }),
  tenantId,
  actorKeyId: null,
  actor: 'cli (database) as ops',
  via: 'cli',
  action: 'apply',
  target,
  summary: { changes: [{ job: target, action: 'created' }], text: 'caf\u00e9 \u{1F600}' },
});

describe('audit events', () => {
  it('lists a tenant\'s events newest first, by pages and since a time, and prunes old ones', async () => {
    for (const [hoursAgo, target] of [[50, 'job old'], [3, 'job three'], [2, 'job two'], [1, 'job one']] as const) await insertAuditEvent(db.pool, event(A, hoursAgo, target));
    await insertAuditEvent(db.pool, event(B, 1, 'job of b'));

    const all = await listAuditEvents(db.pool, A, { limit: 10 });
    expect(all.map((each) => each.target)).toEqual(['job one', 'job two', 'job three', 'job old']);
    expect(all[0]).toMatchObject({ tenantId: A, actorKeyId: null, actor: 'cli (database) as ops', via: 'cli', action: 'apply', summary: { changes: [{ job: 'job one', action: 'created' }], text: 'caf\u00e9 \u{1F600}' } });
    expect(all[0]!.at).toBeInstanceOf(Date);

    const first = await listAuditEvents(db.pool, A, { limit: 2 });
    const second = await listAuditEvents(db.pool, A, { limit: 2, beforeId: first[1]!.id });
    expect([...first, ...second].map((each) => each.target)).toEqual(all.map((each) => each.target));
    expect((await listAuditEvents(db.pool, A, { limit: 10, since: new Date(Date.now() - 2.5 * HOUR_MS) })).map((each) => each.target)).toEqual(['job one', 'job two']);
    expect((await listAuditEvents(db.pool, B, { limit: 10 })).map((each) => each.target)).toEqual(['job of b']);

    expect(await pruneAuditEvents(db.pool, new Date(Date.now() - 24 * HOUR_MS), 100)).toBe(1);
    expect(await pruneAuditEvents(db.pool, new Date(Date.now() - 24 * HOUR_MS), 100)).toBe(0);
    expect((await listAuditEvents(db.pool, A, { limit: 10 })).map((each) => each.target)).toEqual(['job one', 'job two', 'job three']);
  });
});
