import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyJobs, createEndpoint, createJob, updateEndpoint, updateJobFields, type JobInput } from '@tickwise/catalog';
import { DEFAULT_TENANT_ID } from '@tickwise/db';
import { endpointInputSchema, toEndpointSpec, type NotifyTarget } from '@tickwise/machines';
import { TickwiseError } from '@tickwise/platform';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { METADATA_CASES, metadataMessage, PRIVATE_CASES, privateMessage } from '../../test/support/target-addresses.ts';
import { TEST_TARGET_POLICY } from '../../test/support/targets.ts';

// Every catalog path that writes a URL refuses a private one by default (no policy given: the
// default), naming the field, and writes nothing; with the opt-in it is written; metadata never.

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

const endpoint = (name: string, url: string) => endpointInputSchema.parse({ name, url, schedule: { every: '1h' } });
const webhook = (url: string): NotifyTarget => ({ channel: 'webhook', url, after: 3 });
const urlOf = (spelling: string) => `http://${spelling}:8080/hook`;

/** The cases ten at a time (a job has at most 10 notify targets): one job each, an endpoint and a webhook per case. */
const CHUNKS = Array.from({ length: Math.ceil(PRIVATE_CASES.length / 10) }, (_, index) => PRIVATE_CASES.slice(index * 10, index * 10 + 10));
const jobsOf = (prefix: string): JobInput[] =>
  CHUNKS.map((chunk, jobIndex) => ({
    name: `${prefix}-${jobIndex}`,
    synthetic: false,
    endpoints: chunk.map((item, index) => endpoint(`e${index}`, urlOf(item.spelling))),
    notify: chunk.map((item) => webhook(urlOf(item.spelling))),
  }));

async function refusal(work: () => Promise<unknown>): Promise<TickwiseError> {
  const error = await work().then(
    () => null,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(TickwiseError);
  expect(error).toMatchObject({ code: 'invalid_argument', reason: 'target_denied' });
  return error as TickwiseError;
}

const jobCount = async () => (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM jobs')).rows[0]!.n;

describe('private targets written through the catalog', () => {
  it('applyJobs refuses every encoding, endpoint URLs and notify targets, naming each field; the opt-in writes them', async () => {
    const error = await refusal(() => applyJobs(db.pool, jobsOf('refused')));
    const expected = [
      ...CHUNKS.flatMap((chunk, jobIndex) => chunk.map((item, index) => ({ field: `jobs[${jobIndex}].endpoints[${index}].url`, reason: privateMessage(item) }))),
      ...CHUNKS.flatMap((chunk, jobIndex) => chunk.map((item, index) => ({ field: `jobs[${jobIndex}].notify[${index}].webhook`, reason: privateMessage(item) }))),
    ];
    expect(error.violations).toEqual(expected);
    expect(await jobCount()).toBe(0);
    const changes = await applyJobs(db.pool, jobsOf('allowed'), { targetPolicy: TEST_TARGET_POLICY });
    expect(changes.filter((change) => change.action === 'created')).toHaveLength(CHUNKS.length + PRIVATE_CASES.length);
  });

  it('createJob, createEndpoint, updateEndpoint and updateJobFields refuse each encoding by default', async () => {
    const { jobId } = await createJob(db.pool, DEFAULT_TENANT_ID, { name: 'public', synthetic: false, endpoints: [endpoint('e', 'https://api.example.com/x')] });
    const { rows } = await db.pool.query<{ id: string }>('SELECT id FROM endpoints WHERE job_id = $1', [jobId]);
    const endpointId = rows[0]!.id;
    for (const item of PRIVATE_CASES) {
      const url = urlOf(item.spelling);
      const message = privateMessage(item);
      expect((await refusal(() => createJob(db.pool, DEFAULT_TENANT_ID, { name: 'single', synthetic: false, endpoints: [endpoint('e', url)], notify: [webhook(url)] }))).violations).toEqual([
        { field: 'endpoints[0].url', reason: message },
        { field: 'notify[0].webhook', reason: message },
      ]);
      expect((await refusal(() => createEndpoint(db.pool, DEFAULT_TENANT_ID, jobId, endpoint('added', url)))).violations).toEqual([{ field: 'url', reason: message }]);
      expect((await refusal(() => updateEndpoint(db.pool, DEFAULT_TENANT_ID, endpointId, toEndpointSpec(endpoint('e', url))))).violations).toEqual([{ field: 'url', reason: message }]);
      expect((await refusal(() => updateJobFields(db.pool, DEFAULT_TENANT_ID, jobId, { synthetic: false, notify: [webhook('https://ops.example.com/'), { channel: 'slack', url, after: 1 }] }))).violations).toEqual([{ field: 'notify[1].slack', reason: message }]);
    }
    expect((await db.pool.query('SELECT count(*)::int AS n FROM endpoints WHERE job_id = $1', [jobId])).rows[0].n).toBe(1);
    expect(await updateEndpoint(db.pool, DEFAULT_TENANT_ID, endpointId, toEndpointSpec(endpoint('e', 'http://10.0.0.1/x')), { targetPolicy: TEST_TARGET_POLICY })).toMatchObject({ action: 'updated' });
  });

  it('refuses cloud metadata in every encoding even with the opt-in', async () => {
    const job: JobInput = { name: 'metadata', synthetic: false, endpoints: METADATA_CASES.map((item, index) => endpoint(`m${index}`, `http://${item.spelling}/latest/`)) };
    const error = await refusal(() => applyJobs(db.pool, [job], { targetPolicy: TEST_TARGET_POLICY }));
    expect(error.violations).toEqual(METADATA_CASES.map((item, index) => ({ field: `jobs[0].endpoints[${index}].url`, reason: metadataMessage(item) })));
  });
});
