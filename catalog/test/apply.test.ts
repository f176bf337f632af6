import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TickwiseError } from '@tickwise/platform';
import { applyJobs, setPause, type ApplyChange, type JobInput } from '@tickwise/catalog';
import { bucketOf, claimDue, BUCKET_COUNT, machineHistory, newId, toEndpointRow, type EndpointRow, type RawEndpointRow } from '@tickwise/db';
import { endpointInputSchema, toEndpointSpec } from '@tickwise/machines';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { TEST_TARGET_POLICY } from '../../test/support/targets.ts';

const NOW = new Date('2030-05-01T10:15:00.000Z');
const LATER = new Date('2030-05-01T10:20:00.000Z');

let db: TestDatabase;
beforeEach(async () => {
  db = await createTestDatabase();
});
afterEach(async () => {
  await db.drop();
});

function endpoint(name: string, schedule: Record<string, string>, extra: Record<string, unknown> = {}) {
  return endpointInputSchema.parse({ name, url: `http://127.0.0.1:1/${name}`, schedule, ...extra });
}

function job(name: string, endpoints: ReturnType<typeof endpoint>[], synthetic = false): JobInput {
  return { name, synthetic, endpoints };
}

const billing = () =>
  job('billing', [
    endpoint('invoices', { every: '5m' }, { headers: { 'X-Team': 'billing', 'X-Api-Version': '2' } }),
    endpoint('reminders', { cron: '0 * * * *' }, { method: 'POST', body: { kind: 'reminder', urgent: false } }),
  ]);

function apply(jobs: JobInput[], now = NOW): Promise<ApplyChange[]> {
  return applyJobs(db.pool, jobs, { now: () => now, random: () => 0, targetPolicy: TEST_TARGET_POLICY });
}

async function endpointRow(jobName: string, name: string): Promise<EndpointRow & { pausedAt: Date | null; updatedAt: Date }> {
  const { rows } = await db.pool.query<RawEndpointRow & { paused_at: Date | null; updated_at: Date }>(
    'SELECT e.* FROM endpoints e JOIN jobs j ON j.id = e.job_id WHERE j.name = $1 AND e.name = $2',
    [jobName, name],
  );
  if (!rows[0]) throw new Error(`no endpoint ${jobName}/${name}`);
  return { ...toEndpointRow(rows[0]), pausedAt: rows[0].paused_at, updatedAt: rows[0].updated_at };
}

/** Everything the catalog writes, for before/after comparisons. */
async function dump() {
  const jobs = await db.pool.query('SELECT * FROM jobs ORDER BY name');
  const endpoints = await db.pool.query('SELECT * FROM endpoints ORDER BY job_id, name');
  const history = await db.pool.query('SELECT * FROM endpoint_transitions ORDER BY endpoint_id, seq');
  return { jobs: jobs.rows, endpoints: endpoints.rows, history: history.rows };
}

async function historyWrites(id: string) {
  const steps = await machineHistory(db.pool, id);
  const writes = new Map<number, string[]>();
  for (const step of steps) writes.set(step.seq, [...(writes.get(step.seq) ?? []), `${step.event} ${step.from ?? '∅'}→${step.to}`]);
  return [...writes.values()];
}

describe('applyJobs', () => {
  it('creates a job and its endpoints as planned, idle machines with their history', async () => {
    const changes = await apply([billing()]);
    expect(changes).toEqual([
      { job: 'billing', endpoint: null, action: 'created' },
      { job: 'billing', endpoint: 'invoices', action: 'created' },
      { job: 'billing', endpoint: 'reminders', action: 'created' },
    ]);
    const { rows: jobs } = await db.pool.query('SELECT name, synthetic, archived_at FROM jobs');
    expect(jobs).toEqual([{ name: 'billing', synthetic: false, archived_at: null }]);

    const invoices = await endpointRow('billing', 'invoices');
    expect(invoices.state).toBe('idle');
    expect(invoices.snapshot).toMatchObject({ value: 'idle', context: { reason: 'first run of every 5m', nextRunAt: NOW.toISOString() } });
    expect(invoices.nextRunAt).toEqual(NOW); // an every-schedule runs first at once
    expect(invoices.reason).toBe('first run of every 5m');
    expect(invoices.spec).toEqual(toEndpointSpec(billing().endpoints[0]!));
    expect(invoices.bucket).toBe(bucketOf(invoices.id));
    expect(invoices.bucket).toBeLessThan(BUCKET_COUNT);
    expect(invoices.leaseOwner).toBeNull();
    expect(invoices.archivedAt).toBeNull();
    expect(invoices.version).toBe(2); // inserted, then planned

    const reminders = await endpointRow('billing', 'reminders');
    expect(reminders.state).toBe('idle');
    expect(reminders.nextRunAt).toEqual(new Date('2030-05-01T11:00:00.000Z'));
    expect(reminders.reason).toBe('baseline cron "0 * * * *" (UTC)');
    expect(reminders.spec).toMatchObject({ method: 'POST', body: { kind: 'reminder', urgent: false }, schedule: { kind: 'cron', cron: '0 * * * *', timezone: 'UTC' } });

    for (const row of [invoices, reminders]) {
      expect(await historyWrites(row.id)).toEqual([['CREATE ∅→planning', 'PLANNED planning→idle']]);
    }
    const [, planned] = await machineHistory(db.pool, invoices.id);
    expect(planned).toMatchObject({ reason: 'first run of every 5m', nextRunAt: NOW, at: NOW, worker: null });
  });

  it("reports 'unchanged' for the same input and writes nothing", async () => {
    await apply([billing()]);
    const before = await dump();
    // The stored spec went through jsonb (keys reordered); it still compares equal.
    const changes = await apply([billing()], LATER);
    expect(changes).toEqual([
      { job: 'billing', endpoint: 'invoices', action: 'unchanged' },
      { job: 'billing', endpoint: 'reminders', action: 'unchanged' },
    ]);
    expect(await dump()).toEqual(before);
  });

  it("reports 'updated' for a changed schedule and re-plans the idle machine at once", async () => {
    await apply([billing()]);
    const before = await endpointRow('billing', 'invoices');
    const changed = billing();
    changed.endpoints[0] = endpoint('invoices', { cron: '*/15 * * * *' }, { headers: { 'X-Team': 'billing', 'X-Api-Version': '2' } });
    const changes = await apply([changed], LATER);
    expect(changes).toEqual([
      { job: 'billing', endpoint: 'invoices', action: 'updated' },
      { job: 'billing', endpoint: 'reminders', action: 'unchanged' },
    ]);
    const after = await endpointRow('billing', 'invoices');
    expect(after.spec.schedule).toEqual({ kind: 'cron', cron: '*/15 * * * *', timezone: 'UTC' });
    expect(after.state).toBe('idle');
    expect(after.nextRunAt).toEqual(new Date('2030-05-01T10:30:00.000Z'));
    expect(after.reason).toBe('baseline cron "*/15 * * * *" (UTC)');
    expect(after.version).toBe(before.version + 1);
    expect(await historyWrites(after.id)).toEqual([
      ['CREATE ∅→planning', 'PLANNED planning→idle'],
      ['REPLAN idle→planning', 'PLANNED planning→idle'],
    ]);
  });

  it("archives an endpoint dropped from the input and reports 'restored' when it comes back", async () => {
    await apply([billing()]);
    const original = await endpointRow('billing', 'reminders');
    const withoutReminders = job('billing', [billing().endpoints[0]!]);

    expect(await apply([withoutReminders], LATER)).toEqual([
      { job: 'billing', endpoint: 'invoices', action: 'unchanged' },
      { job: 'billing', endpoint: 'reminders', action: 'archived' },
    ]);
    const archived = await endpointRow('billing', 'reminders');
    expect(archived.id).toBe(original.id);
    expect(archived.archivedAt).toBeInstanceOf(Date);
    // Archived once: applying the same input again does not archive it again.
    expect(await apply([withoutReminders], LATER)).toEqual([{ job: 'billing', endpoint: 'invoices', action: 'unchanged' }]);
    expect((await endpointRow('billing', 'reminders')).archivedAt).toEqual(archived.archivedAt);

    expect(await apply([billing()], LATER)).toEqual([
      { job: 'billing', endpoint: 'invoices', action: 'unchanged' },
      { job: 'billing', endpoint: 'reminders', action: 'restored' },
    ]);
    const restored = await endpointRow('billing', 'reminders');
    expect(restored.id).toBe(original.id);
    expect(restored.archivedAt).toBeNull();
    expect(restored.state).toBe('idle');
    expect(restored.nextRunAt).toEqual(new Date('2030-05-01T11:00:00.000Z'));
    const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM endpoints');
    expect(rows[0]!.n).toBe(2);
  });

  it('leaves jobs absent from the input untouched', async () => {
    await apply([billing(), job('reports', [endpoint('daily', { cron: '0 6 * * *' }), endpoint('hourly', { every: '1h' })])]);
    const reportsBefore = (await dump()).endpoints.filter((row) => row.name === 'daily' || row.name === 'hourly');
    const { rows: jobBefore } = await db.pool.query("SELECT * FROM jobs WHERE name = 'reports'");

    const changes = await apply([job('billing', [endpoint('invoices', { every: '10m' })])], LATER);
    expect(changes.every((change) => change.job === 'billing')).toBe(true);
    expect(changes).toContainEqual({ job: 'billing', endpoint: 'reminders', action: 'archived' });

    const reportsAfter = (await dump()).endpoints.filter((row) => row.name === 'daily' || row.name === 'hourly');
    expect(reportsAfter).toEqual(reportsBefore);
    expect(reportsAfter.every((row) => row.archived_at === null)).toBe(true);
    const { rows: jobAfter } = await db.pool.query("SELECT * FROM jobs WHERE name = 'reports'");
    expect(jobAfter).toEqual(jobBefore);
  });

  it("marks a job's synthetic flag as an update of the job", async () => {
    await apply([billing()]);
    const changes = await apply([{ ...billing(), synthetic: true }], LATER);
    expect(changes[0]).toEqual({ job: 'billing', endpoint: null, action: 'updated' });
    const { rows } = await db.pool.query("SELECT synthetic FROM jobs WHERE name = 'billing'");
    expect(rows).toEqual([{ synthetic: true }]);
  });

  it('applies all jobs or none: a failure in the second job leaves no trace of the first', async () => {
    await apply([job('existing', [endpoint('keep', { every: '1m' }), endpoint('drop-me', { every: '1m' })])]);
    await db.pool.query(`
      CREATE FUNCTION tickwise_test_explode() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.name = 'explode' THEN RAISE EXCEPTION 'boom: endpoint % refused', NEW.name; END IF;
        RETURN NEW;
      END $$`);
    await db.pool.query('CREATE TRIGGER tickwise_test_explode BEFORE INSERT ON endpoints FOR EACH ROW EXECUTE FUNCTION tickwise_test_explode()');
    const before = await dump();

    await expect(
      apply(
        [
          job('first', [endpoint('one', { every: '1m' }), endpoint('two', { every: '2m' })]),
          job('existing', [endpoint('keep', { every: '7m' })]),
          job('second', [endpoint('fine', { every: '1m' }), endpoint('explode', { every: '1m' })]),
        ],
        LATER,
      ),
    ).rejects.toThrow(/boom: endpoint explode refused/);

    expect(await dump()).toEqual(before);
    const { rows } = await db.pool.query<{ name: string }>('SELECT name FROM jobs ORDER BY name');
    expect(rows.map((row) => row.name)).toEqual(['existing']);
  });

  it('updates the spec of a leased endpoint but leaves its machine to the node that holds it', async () => {
    await apply([billing()]);
    await db.pool.query(
      "UPDATE endpoints SET lease_owner = 'node-7', lease_expires_at = now() + interval '1 minute' WHERE name = 'invoices'",
    );
    const before = await endpointRow('billing', 'invoices');
    const historyBefore = await historyWrites(before.id);
    const changed = job('billing', [endpoint('invoices', { every: '1m' }), billing().endpoints[1]!]);

    const changes = await apply([changed], LATER);
    const change = changes.find((c) => c.endpoint === 'invoices')!;
    expect(change.action).toBe('updated');
    expect(change.note).toContain('node-7');
    expect(change.note).toContain('after that run');

    const after = await endpointRow('billing', 'invoices');
    expect(after.spec.schedule).toEqual({ kind: 'every', everyMs: 60_000 });
    expect(after.spec.headers).toEqual({});
    // The machine itself is as the node left it.
    expect(after.version).toBe(before.version);
    expect(after.state).toBe(before.state);
    expect(after.snapshot).toEqual(before.snapshot);
    expect(after.nextRunAt).toEqual(before.nextRunAt);
    expect(after.reason).toBe(before.reason);
    expect(after.leaseOwner).toBe('node-7');
    expect(await historyWrites(after.id)).toEqual(historyBefore);
  });

  it('does not re-plan an endpoint a node has claimed, and says where it is', async () => {
    await apply([billing()]);
    const claimed = await claimDue(db.pool, { worker: 'node-8', limit: 10, leaseMs: 60_000, horizon: new Date('2030-06-01T00:00:00Z'), buckets: Array.from({ length: BUCKET_COUNT }, (_, b) => b) });
    expect(claimed.length).toBe(2);
    const before = await endpointRow('billing', 'reminders');
    const changed = job('billing', [billing().endpoints[0]!, endpoint('reminders', { cron: '30 * * * *' })]);
    const changes = await apply([changed], LATER);
    expect(changes.find((c) => c.endpoint === 'reminders')).toEqual({
      job: 'billing',
      endpoint: 'reminders',
      action: 'updated',
      note: 'endpoint is due on node-8: the new schedule applies after that run',
    });
    const after = await endpointRow('billing', 'reminders');
    expect(after.spec.schedule).toEqual({ kind: 'cron', cron: '30 * * * *', timezone: 'UTC' });
    expect(after.state).toBe('due');
    expect(after.version).toBe(before.version);
    expect(after.claimedSlot).toEqual(before.claimedSlot);
  });
});

describe('setPause', () => {
  it('pauses an idle endpoint, and a resume plans its next run', async () => {
    await apply([billing()]);
    const { id, version } = await endpointRow('billing', 'invoices');

    await setPause(db.pool, id, { reason: 'alice: maintenance window', until: null }, LATER);
    const paused = await endpointRow('billing', 'invoices');
    expect(paused.state).toBe('paused');
    expect(paused.pausedReason).toBe('alice: maintenance window');
    expect(paused.pausedUntil).toBeNull();
    expect(paused.pausedAt).toBeInstanceOf(Date);
    expect(paused.reason).toBe('paused by a person: alice: maintenance window');
    expect(paused.nextRunAt).toBeNull();
    expect(paused.version).toBe(version + 1);
    expect(paused.snapshot).toMatchObject({ value: 'paused', context: { source: 'user' } });

    await setPause(db.pool, id, null, LATER);
    const resumed = await endpointRow('billing', 'invoices');
    expect(resumed.state).toBe('idle');
    expect(resumed.pausedReason).toBeNull();
    expect(resumed.pausedAt).toBeNull();
    expect(resumed.nextRunAt).toEqual(LATER);
    expect(resumed.reason).toBe('first run of every 5m');
    expect(resumed.version).toBe(version + 2);
    expect(await historyWrites(id)).toEqual([
      ['CREATE ∅→planning', 'PLANNED planning→idle'],
      ['REPLAN idle→planning', 'PAUSED planning→paused'],
      ['RESUME paused→planning', 'PLANNED planning→idle'],
    ]);
  });

  it('pauses until a given time: that is when the machine is looked at again', async () => {
    await apply([billing()]);
    const { id } = await endpointRow('billing', 'reminders');
    const until = new Date('2030-05-02T00:00:00.000Z');
    await setPause(db.pool, id, { reason: 'bob: freeze', until }, LATER);
    const paused = await endpointRow('billing', 'reminders');
    expect(paused.state).toBe('paused');
    expect(paused.pausedUntil).toEqual(until);
    expect(paused.nextRunAt).toEqual(until);
    expect(paused.reason).toBe('paused by a person: bob: freeze');
  });

  it('records the pause of a leased endpoint without touching its machine', async () => {
    await apply([billing()]);
    await db.pool.query("UPDATE endpoints SET lease_owner = 'node-9', lease_expires_at = now() + interval '1 minute' WHERE name = 'invoices'");
    const before = await endpointRow('billing', 'invoices');
    await setPause(db.pool, before.id, { reason: 'carol: incident', until: null }, LATER);
    const after = await endpointRow('billing', 'invoices');
    expect(after.pausedReason).toBe('carol: incident');
    expect(after.state).toBe('idle');
    expect(after.version).toBe(before.version);
    expect(after.nextRunAt).toEqual(before.nextRunAt);
  });

  it('refuses an unknown endpoint with not_found, naming it', async () => {
    const missing = newId();
    const failure = await setPause(db.pool, missing, { reason: 'x', until: null }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(TickwiseError);
    expect(failure).toMatchObject({ code: 'not_found', message: `endpoint ${missing} does not exist` });
    expect((failure as Error).message).toContain(missing);
  });
});
