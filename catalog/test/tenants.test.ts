import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TickwiseError } from '@tickwise/platform';
import { applyJobs, archiveEndpoint, archiveJob, changeHints, createEndpoint, createJob, setJobPause, triggerNow, updateEndpoint, updateJobFields, type JobInput } from '@tickwise/catalog';
import { DEFAULT_TENANT_ID, getEndpoint, insertEndpoints, insertTenant, listEndpoints, newId } from '@tickwise/db';
import { endpointInputSchema, toEndpointSpec } from '@tickwise/machines';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';

const NOW = new Date('2030-05-01T10:15:00.000Z');
// Never called: a documentation address (TEST-NET-1), which the default target policy lets through.
const endpoint = (name: string, every = '1h') => endpointInputSchema.parse({ name, url: `http://192.0.2.1:1/${name}`, schedule: { every } });
const job = (name: string, names: string[]): JobInput => ({ name, synthetic: false, endpoints: names.map((each) => endpoint(each)) });

async function failure(promise: Promise<unknown>): Promise<TickwiseError> {
  const error = await promise.then(
    () => {
      throw new Error('expected a TickwiseError');
    },
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(TickwiseError);
  return error as TickwiseError;
}

describe('the catalog with tenants', () => {
  let db: TestDatabase;
  const a = newId();
  const b = newId();
  beforeAll(async () => {
    db = await createTestDatabase();
    await insertTenant(db.pool, { id: a, name: 'a' });
    await insertTenant(db.pool, { id: b, name: 'b' });
  });
  afterAll(async () => {
    await db.drop();
  });

  it('puts applied jobs in the default tenant unless told otherwise; names are unique per tenant only', async () => {
    await applyJobs(db.pool, [job('shared', ['x'])], { now: () => NOW });
    await applyJobs(db.pool, [job('shared', ['x', 'y'])], { now: () => NOW, tenantId: a });
    const { rows } = await db.pool.query<{ tenant_id: string; name: string; endpoints: string }>(
      `SELECT j.tenant_id, j.name, string_agg(e.name || '@' || (e.tenant_id = j.tenant_id), ',' ORDER BY e.name) AS endpoints
         FROM jobs j JOIN endpoints e ON e.job_id = j.id WHERE j.name = 'shared' GROUP BY 1, 2 ORDER BY 3`,
    );
    expect(rows).toEqual([
      { tenant_id: DEFAULT_TENANT_ID, name: 'shared', endpoints: 'x@true' },
      { tenant_id: a, name: 'shared', endpoints: 'x@true,y@true' },
    ]);
  });

  it('creates a job once: already_exists for a live one, restored when archived', async () => {
    const created = await createJob(db.pool, a, job('once', ['p']), { now: () => NOW });
    expect(created.changes.map((change) => change.action)).toEqual(['created', 'created']);
    expect((await failure(createJob(db.pool, a, job('once', [])))).code).toBe('already_exists');
    // Another tenant may use the name.
    await createJob(db.pool, b, job('once', []));
    await archiveJob(db.pool, a, created.jobId);
    const restored = await createJob(db.pool, a, job('once', ['p', 'q']), { now: () => NOW });
    expect(restored.jobId).toBe(created.jobId);
    expect(restored.changes.map((change) => `${change.endpoint ?? 'job'} ${change.action}`)).toEqual(['job restored', 'p restored', 'q created']);
  });

  it('refuses every single-object operation on another tenant\'s ids as not_found', async () => {
    const { jobId } = await createJob(db.pool, a, job('mine', ['e']), { now: () => NOW });
    const [row] = await listEndpoints(db.pool, a, { limit: 10, jobId });
    const id = row!.id;
    const attempts: (() => Promise<unknown>)[] = [
      () => createEndpoint(db.pool, b, jobId, endpoint('intruder')),
      () => updateEndpoint(db.pool, b, id, toEndpointSpec(endpoint('e', '5m'))),
      () => updateJobFields(db.pool, b, jobId, { synthetic: true }),
      () => archiveJob(db.pool, b, jobId),
      () => archiveEndpoint(db.pool, b, id),
      () => setJobPause(db.pool, b, jobId, { reason: 'x', until: null }),
      () => triggerNow(db.pool, b, id),
      () => changeHints(db.pool, b, id, async () => ({ endpointId: id, add: [] })),
    ];
    for (const attempt of attempts) expect((await failure(attempt())).code).toBe('not_found');
    expect(await getEndpoint(db.pool, a, id)).toMatchObject({ archivedAt: null, pausedReason: null, version: row!.version });
    expect(await getEndpoint(db.pool, b, id)).toBeNull();
  });

  it('pauses a job all or nothing: a failure on one endpoint leaves every endpoint as it was', async () => {
    const { jobId } = await createJob(db.pool, a, job('together', ['first', 'second', 'third']), { now: () => NOW });
    const rows = (await listEndpoints(db.pool, a, { jobId, limit: 10 })).filter((row) => row.jobId === jobId);
    const second = rows.find((row) => row.name === 'second')!;
    // A real failure part way: the database refuses the second endpoint's pause.
    await db.pool.query(`ALTER TABLE endpoints ADD CONSTRAINT refuse_second_pause CHECK (id <> '${second.id}' OR paused_reason IS NULL)`);
    try {
      await expect(setJobPause(db.pool, a, jobId, { reason: 'deploy', until: null }, NOW)).rejects.toThrow(/refuse_second_pause/);
      for (const row of rows) expect((await getEndpoint(db.pool, a, row.id))?.pausedReason).toBeNull();
    } finally {
      await db.pool.query('ALTER TABLE endpoints DROP CONSTRAINT refuse_second_pause');
    }
    expect((await setJobPause(db.pool, a, jobId, { reason: 'deploy', until: null }, NOW)).sort()).toEqual(rows.map((row) => row.id).sort());
    for (const row of rows) expect(await getEndpoint(db.pool, a, row.id)).toMatchObject({ pausedReason: 'deploy', state: 'paused' });
    await setJobPause(db.pool, a, jobId, null, NOW);
    for (const row of rows) expect(await getEndpoint(db.pool, a, row.id)).toMatchObject({ pausedReason: null, state: 'idle' });
  });

  it('adds, restores and updates single endpoints, refusing duplicates and archived ones', async () => {
    const { jobId } = await createJob(db.pool, a, job('single', []), { now: () => NOW });
    const created = await createEndpoint(db.pool, a, jobId, endpoint('one'), { now: () => NOW });
    expect(created.action).toBe('created');
    expect((await failure(createEndpoint(db.pool, a, jobId, endpoint('one')))).code).toBe('already_exists');
    expect(await updateEndpoint(db.pool, a, created.endpointId, toEndpointSpec(endpoint('one')))).toEqual({ action: 'unchanged' });
    expect(await updateEndpoint(db.pool, a, created.endpointId, toEndpointSpec(endpoint('one', '2h')), { now: () => NOW })).toEqual({ action: 'updated' });
    expect(await archiveEndpoint(db.pool, a, created.endpointId)).toBe(true);
    expect(await archiveEndpoint(db.pool, a, created.endpointId)).toBe(false);
    expect((await failure(updateEndpoint(db.pool, a, created.endpointId, toEndpointSpec(endpoint('one'))))).code).toBe('failed_precondition');
    expect((await createEndpoint(db.pool, a, jobId, endpoint('one', '3h'), { now: () => NOW })).action).toBe('restored');
    await archiveJob(db.pool, a, jobId);
    expect((await failure(createEndpoint(db.pool, a, jobId, endpoint('two')))).code).toBe('failed_precondition');
    expect((await failure(setJobPause(db.pool, a, jobId, { reason: 'x', until: null }))).code).toBe('failed_precondition');
  });

  it('triggers a free machine at once, and records the hint it honours so no node re-plans it again', async () => {
    // A yearly cron: the next baseline slot is far away.
    const yearly = endpointInputSchema.parse({ name: 't', url: 'http://192.0.2.1:1/t', schedule: { cron: '0 0 1 1 *' } });
    const { jobId } = await createJob(db.pool, a, { name: 'trigger', synthetic: false, endpoints: [yearly] });
    const [row] = await listEndpoints(db.pool, a, { limit: 1, jobId });
    const at = new Date(Date.now() + 1_000);
    const result = await triggerNow(db.pool, a, row!.id, { reason: 'now please', now: () => at });
    expect(result).toMatchObject({ state: 'idle', nextRunAt: at, reason: expect.stringContaining('hint (manual): run once at') });
    expect(result.note).toBeUndefined();
    const after = await getEndpoint(db.pool, a, row!.id);
    expect(after?.plannedHintVersion).toBe(after?.hintVersion);
    const { rows } = await db.pool.query('SELECT kind, source, reason FROM hints WHERE id = $1', [result.hintId]);
    expect(rows).toEqual([{ kind: 'run_at', source: 'manual', reason: 'now please' }]);
  });

  it('leaves a leased machine to its node: the hint is written, the plan untouched, and the result says so', async () => {
    const { jobId } = await createJob(db.pool, a, job('leased', ['l']), { now: () => NOW });
    const [row] = await listEndpoints(db.pool, a, { limit: 1, jobId });
    await db.pool.query("UPDATE endpoints SET state = 'running', lease_owner = 'node-1', lease_expires_at = now() + interval '1 minute' WHERE id = $1", [row!.id]);
    const result = await triggerNow(db.pool, a, row!.id);
    expect(result.state).toBe('running');
    expect(result.note).toContain('node-1');
    const after = await getEndpoint(db.pool, a, row!.id);
    expect(after!.hintVersion).toBe(after!.plannedHintVersion + 1);
  });

  it('refuses to trigger an endpoint a person paused', async () => {
    const { jobId } = await createJob(db.pool, a, job('held', ['h']), { now: () => NOW });
    await setJobPause(db.pool, a, jobId, { reason: 'incident', until: null });
    const [row] = await listEndpoints(db.pool, a, { limit: 1, jobId });
    const error = await failure(triggerNow(db.pool, a, row!.id));
    expect(error.code).toBe('failed_precondition');
    expect(error.message).toContain('paused by a person (incident)');
  });

  it('will not insert an endpoint whose job does not exist (its tenant is copied from the job)', async () => {
    await expect(insertEndpoints(db.pool, newId(), [{ id: newId(), name: 'orphan', spec: toEndpointSpec(endpoint('orphan')), bucket: 0, state: 'idle', snapshot: {} as never }])).rejects.toThrow(/does not exist/);
  });
});
