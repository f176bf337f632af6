import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyJobs, createJob, setJobPause, setPause, updateJobFields, type JobInput } from '@tickwise/catalog';
import { applyHintChanges, DEFAULT_TENANT_ID, inTransaction, jobNotify, newId, noticesAfter, PAUSE_EPISODE_MS } from '@tickwise/db';
import { endpointInputSchema } from '@tickwise/machines';
import { parseTargetPolicy, TickwiseError } from '@tickwise/platform';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';

// A job's notify targets are stored with it, under the target policy, and a pause set by a person
// or a hint leaves a notice in its own transaction for the planner to send.

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

// Never called: a documentation address (TEST-NET-1), which the default target policy lets through.
const endpoint = (name: string) => endpointInputSchema.parse({ name, url: `http://192.0.2.1:1/${name}`, schedule: { every: '1h' } });
const hooks = [
  { channel: 'webhook' as const, url: 'https://ops.example.com/hooks/tickwise', after: 3 },
  { channel: 'slack' as const, url: 'https://hooks.slack.com/services/T000/B000/XXX', after: 1 },
];

async function jobId(name: string): Promise<string> {
  return (await db.pool.query<{ id: string }>('SELECT id FROM jobs WHERE name = $1', [name])).rows[0]!.id;
}

async function refusal(work: () => Promise<unknown>): Promise<TickwiseError> {
  const error = await work().then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(TickwiseError);
  return error as TickwiseError;
}

describe('notify targets of a job', () => {
  it('are stored by apply, reported as a job change, and cleared when the file no longer lists them', async () => {
    const job: JobInput = { name: 'orders', synthetic: false, endpoints: [endpoint('poll')], notify: hooks };
    expect(await applyJobs(db.pool, [job])).toContainEqual({ job: 'orders', endpoint: null, action: 'created' });
    const id = await jobId('orders');
    expect(await jobNotify(db.pool, id)).toEqual(hooks);
    expect((await applyJobs(db.pool, [job])).filter((change) => change.endpoint === null)).toEqual([]);
    expect(await applyJobs(db.pool, [{ ...job, notify: [hooks[0]!] }])).toContainEqual({ job: 'orders', endpoint: null, action: 'updated' });
    expect(await jobNotify(db.pool, id)).toEqual([hooks[0]]);
    await applyJobs(db.pool, [{ ...job, notify: undefined }]);
    expect(await jobNotify(db.pool, id)).toEqual([]);
  });

  it('are changed alone by updateJobFields', async () => {
    const { jobId: id } = await createJob(db.pool, DEFAULT_TENANT_ID, { name: 'single', synthetic: false, endpoints: [endpoint('e')], notify: [hooks[1]!] });
    expect(await jobNotify(db.pool, id)).toEqual([hooks[1]]);
    await updateJobFields(db.pool, DEFAULT_TENANT_ID, id, { synthetic: false, notify: hooks });
    expect(await jobNotify(db.pool, id)).toEqual(hooks);
  });

  it('are refused when the target policy denies them, naming each field, and nothing is written', async () => {
    const targetPolicy = parseTargetPolicy({ deny: '10.0.0.0/8,*.internal.example' });
    const job: JobInput = {
      name: 'denied',
      synthetic: false,
      endpoints: [endpoint('ok')],
      notify: [hooks[0]!, { channel: 'webhook', url: 'http://10.1.2.3/hook', after: 3 }, { channel: 'slack', url: 'https://chat.internal.example/x', after: 3 }],
    };
    const error = await refusal(() => applyJobs(db.pool, [job], { targetPolicy }));
    expect(error).toMatchObject({ code: 'invalid_argument', reason: 'target_denied' });
    expect(error.violations.map((violation) => violation.field)).toEqual(['jobs[0].notify[1].webhook', 'jobs[0].notify[2].slack']);
    expect(error.message).toContain('jobs[0].notify[1].webhook: target denied: host 10.1.2.3 matches TICKWISE_DENY_TARGETS entry "10.0.0.0/8"');
    expect((await db.pool.query("SELECT count(*)::int AS n FROM jobs WHERE name = 'denied'")).rows[0].n).toBe(0);
    const single = await refusal(() => createJob(db.pool, DEFAULT_TENANT_ID, job, { targetPolicy }));
    expect(single.violations.map((violation) => violation.field)).toEqual(['notify[1].webhook', 'notify[2].slack']);
    const metadata = await refusal(() => updateJobFields(db.pool, DEFAULT_TENANT_ID, newId(), { synthetic: false, notify: [{ channel: 'webhook', url: 'http://169.254.169.254/', after: 1 }] }));
    expect(metadata.violations[0]).toMatchObject({ field: 'notify[0].webhook' });
  });
});

describe('pause notices', () => {
  it('a person’s pause leaves one notice by "person"; a resume leaves none', async () => {
    await applyJobs(db.pool, [{ name: 'paused', synthetic: false, endpoints: [endpoint('a'), endpoint('b')] }]);
    const [a, b] = (await db.pool.query<{ id: string }>("SELECT e.id FROM endpoints e JOIN jobs j ON j.id = e.job_id WHERE j.name = 'paused' ORDER BY e.name")).rows.map((row) => row.id);
    const before = (await noticesAfter(db.pool, null, 1_000)).length;
    const until = new Date(Date.now() + 3_600_000);
    await setPause(db.pool, a!, { reason: 'maintenance', until });
    await setPause(db.pool, a!, null);
    const notices = (await noticesAfter(db.pool, null, 1_000)).slice(before);
    expect(notices).toEqual([expect.objectContaining({ endpointId: a, kind: 'paused', detail: { by: 'person', reason: 'maintenance', until: until.toISOString() } })]);
    // A job's pause leaves one per endpoint, in the same transaction.
    await setJobPause(db.pool, DEFAULT_TENANT_ID, await jobId('paused'), { reason: 'release', until: null });
    const jobNotices = (await noticesAfter(db.pool, null, 1_000)).slice(before + 1);
    expect(jobNotices.map((notice) => [notice.endpointId, notice.detail.by, notice.detail.reason, notice.detail.until])).toEqual([
      [a, 'person', 'release', null],
      [b, 'person', 'release', null],
    ]);
  });

  it('a pause_until hint leaves one notice by "hint", and applying the same change again leaves none', async () => {
    const id = (await db.pool.query<{ id: string }>("SELECT e.id FROM endpoints e JOIN jobs j ON j.id = e.job_id WHERE j.name = 'paused' AND e.name = 'b'")).rows[0]!.id;
    const at = new Date(Date.now() + 60_000);
    const change = { endpointId: id, add: [{ id: newId(), endpointId: id, kind: 'pause_until' as const, at, reason: 'Retry-After 60s', source: 'planner:heuristic', expiresAt: at }] };
    const before = (await noticesAfter(db.pool, null, 1_000)).length;
    await inTransaction(db.pool, (client) => applyHintChanges(client, [change]));
    await inTransaction(db.pool, (client) => applyHintChanges(client, [change]));
    const interval = { endpointId: id, add: [{ id: newId(), endpointId: id, kind: 'interval' as const, intervalMs: 60_000, reason: 'slower', source: 'planner:heuristic', expiresAt: at }] };
    await inTransaction(db.pool, (client) => applyHintChanges(client, [interval]));
    const notices = (await noticesAfter(db.pool, null, 1_000)).slice(before);
    expect(notices).toEqual([expect.objectContaining({ endpointId: id, kind: 'paused', detail: { by: 'hint', reason: 'Retry-After 60s', until: at.toISOString() } })]);
  });

  it('tells one notice per pause episode: pause hints that follow one in force, or ended within PAUSE_EPISODE_MS, tell nothing', async () => {
    await applyJobs(db.pool, [{ name: 'throttled', synthetic: false, endpoints: [endpoint('a'), endpoint('b'), endpoint('c')] }]);
    const [a, b, c] = (await db.pool.query<{ id: string }>("SELECT e.id FROM endpoints e JOIN jobs j ON j.id = e.job_id WHERE j.name = 'throttled' ORDER BY e.name")).rows.map((row) => row.id);
    const pause = (endpointId: string, at: Date, clearSources?: string[]) => ({
      endpointId,
      clearSources,
      add: [{ id: newId(), endpointId, kind: 'pause_until' as const, at, reason: `Retry-After until ${at.toISOString()}`, source: 'planner:heuristic', expiresAt: at }],
    });
    const soon = (ms: number) => new Date(Date.now() + ms);
    const before = (await noticesAfter(db.pool, null, 1_000)).length;
    // a: a target answering 429 + Retry-After 5s: a pause in force replaced, then one after it ended.
    await inTransaction(db.pool, (client) => applyHintChanges(client, [pause(a!, soon(5_000))]));
    await inTransaction(db.pool, (client) => applyHintChanges(client, [pause(a!, soon(10_000), ['planner:heuristic'])]));
    // b: its last pause ended 20 minutes ago (past PAUSE_EPISODE_MS): the new one is news.
    await inTransaction(db.pool, (client) => applyHintChanges(client, [pause(b!, new Date(Date.now() - PAUSE_EPISODE_MS - 300_000))]));
    await inTransaction(db.pool, (client) => applyHintChanges(client, [pause(b!, soon(5_000))]));
    // c: a person cleared the pause: the next one starts another episode.
    const first = pause(c!, soon(60_000));
    await inTransaction(db.pool, (client) => applyHintChanges(client, [first]));
    await inTransaction(db.pool, (client) => applyHintChanges(client, [{ endpointId: c!, add: [], clearIds: [first.add[0]!.id] }]));
    await inTransaction(db.pool, (client) => applyHintChanges(client, [pause(c!, soon(30_000))]));
    const told = (await noticesAfter(db.pool, null, 1_000)).slice(before).map((notice) => notice.endpointId);
    expect(told).toEqual([a, b, b, c, c]);
  });
});
