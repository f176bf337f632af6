/** applyJobs creates new endpoints in batches: every machine planned with its history, all or none. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyJobs, createEndpoint } from '@tickwise/catalog';
import { bucketOf, DEFAULT_TENANT_ID, machineHistory } from '@tickwise/db';
import { endpointInputSchema } from '@tickwise/machines';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';

const NOW = new Date('2030-05-01T10:15:00.000Z');
const COUNT = 2_500; // three batches of creation

let db: TestDatabase;
beforeEach(async () => {
  db = await createTestDatabase();
});
afterEach(async () => {
  await db.drop();
});

const endpoints = (count: number) => Array.from({ length: count }, (_, index) => endpointInputSchema.parse({ name: `e${index}`, url: `https://example.com/${index}`, schedule: { every: '1h' } }));
const apply = (count: number) => applyJobs(db.pool, [{ name: 'many', synthetic: false, endpoints: endpoints(count) }], { now: () => NOW, random: () => 0 });

describe('applyJobs creating many endpoints', () => {
  it('creates every one as a planned, idle machine with its first history write, as one created alone is', async () => {
    const changes = await apply(COUNT);
    expect(changes.filter((change) => change.action === 'created' && change.endpoint !== null)).toHaveLength(COUNT);
    const { rows } = await db.pool.query<{ id: string; name: string; state: string; version: number; transition_seq: string; bucket: number; next_run_at: Date; reason: string }>(
      'SELECT id, name, state, version, transition_seq, bucket, next_run_at, reason FROM endpoints ORDER BY name',
    );
    expect(rows).toHaveLength(COUNT);
    for (const row of rows) {
      expect(row).toMatchObject({ state: 'idle', version: 2, transition_seq: '1', bucket: bucketOf(row.id), next_run_at: NOW, reason: 'first run of every 1h' });
    }
    const { rows: history } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM endpoint_transitions');
    expect(history[0]!.n).toBe(COUNT);

    const jobId = (await db.pool.query<{ id: string }>("SELECT id FROM jobs WHERE name = 'many'")).rows[0]!.id;
    const alone = await createEndpoint(db.pool, DEFAULT_TENANT_ID, jobId, endpointInputSchema.parse({ name: 'alone', url: 'https://example.com/alone', schedule: { every: '1h' } }), { now: () => NOW, random: () => 0 });
    const columns = 'state, version, transition_seq, next_run_at, reason, snapshot, claimed_slot, attempt, lease_owner';
    const one = (await db.pool.query(`SELECT ${columns} FROM endpoints WHERE id = $1`, [alone.endpointId])).rows[0];
    const bulk = (await db.pool.query(`SELECT ${columns} FROM endpoints WHERE id = $1`, [rows[1_234]!.id])).rows[0];
    expect(bulk).toEqual(one);
    const steps = (id: string) => machineHistory(db.pool, id).then((all) => all.map(({ from, to, event, at, reason, nextRunAt }) => ({ from, to, event, at, reason, nextRunAt })));
    expect(await steps(rows[1_234]!.id)).toEqual(await steps(alone.endpointId));
  });

  it('writes nothing when a later batch fails: the job and the earlier batches roll back', async () => {
    await db.pool.query(`
      CREATE FUNCTION refuse_e2100() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.name = 'e2100' THEN RAISE EXCEPTION 'refused for the test'; END IF; RETURN NEW; END $$;
      CREATE TRIGGER refuse_e2100 BEFORE INSERT ON endpoints FOR EACH ROW EXECUTE FUNCTION refuse_e2100();`);
    await expect(apply(COUNT)).rejects.toThrow('refused for the test');
    const { rows } = await db.pool.query<{ jobs: number; endpoints: number; history: number }>(
      'SELECT (SELECT count(*)::int FROM jobs) AS jobs, (SELECT count(*)::int FROM endpoints) AS endpoints, (SELECT count(*)::int FROM endpoint_transitions) AS history',
    );
    expect(rows[0]).toEqual({ jobs: 0, endpoints: 0, history: 0 });
  });
});
