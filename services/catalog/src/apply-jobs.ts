import { activeHints, archiveEndpoints, bucketOf, commitMachines, inTransaction, insertEndpoint, insertJob, lockEndpointsOfJob, lockJobByName, newId, notifyWake, updateEndpointSpec, updateJob, withRetry, type EndpointRow, type Pool, type PoolClient } from '@tickwise/db';
import { createEndpointSnapshot, persistSnapshot, restoreSnapshot, stateOf, toEndpointSpec, type EndpointInput, type EndpointSpec, type Hint } from '@tickwise/machines';
import { planWrite, userPauseOf } from './machine-writes.ts';

export interface JobInput {
  name: string;
  synthetic: boolean;
  endpoints: EndpointInput[];
}

export type ApplyAction = 'created' | 'updated' | 'unchanged' | 'archived' | 'restored';

export interface ApplyChange {
  job: string;
  endpoint: string | null;
  action: ApplyAction;
  /** Set when the change waits for a run in flight. */
  note?: string;
}

export interface ApplyOptions {
  now?: () => Date;
  random?: () => number;
}

/**
 * Creates or updates jobs and their endpoints, matched by name, all in one transaction. An endpoint
 * of a listed job that the input no longer lists is archived. Jobs not listed are left alone.
 */
export async function applyJobs(pool: Pool, jobs: readonly JobInput[], options: ApplyOptions = {}): Promise<ApplyChange[]> {
  const now = options.now ?? (() => new Date());
  const random = options.random ?? Math.random;
  return withRetry(() =>
    inTransaction(pool, async (client) => {
      const changes: ApplyChange[] = [];
      for (const job of jobs) changes.push(...(await applyJob(client, job, now(), random)));
      await notifyWake(client);
      return changes;
    }),
  );
}

async function applyJob(client: PoolClient, job: JobInput, now: Date, random: () => number): Promise<ApplyChange[]> {
  const changes: ApplyChange[] = [];
  const existingJob = await lockJobByName(client, job.name);
  const jobId = existingJob?.id ?? newId();
  if (!existingJob) {
    await insertJob(client, { id: jobId, name: job.name, synthetic: job.synthetic });
    changes.push({ job: job.name, endpoint: null, action: 'created' });
  } else if (existingJob.synthetic !== job.synthetic || existingJob.archivedAt !== null) {
    await updateJob(client, jobId, { synthetic: job.synthetic });
    changes.push({ job: job.name, endpoint: null, action: existingJob.archivedAt ? 'restored' : 'updated' });
  }
  const existing = new Map((existingJob ? await lockEndpointsOfJob(client, jobId) : []).map((row) => [row.name, row]));
  const hints = await activeHints(client, [...existing.values()].map((row) => row.id));
  for (const input of job.endpoints) {
    const spec = toEndpointSpec(input);
    const row = existing.get(input.name);
    existing.delete(input.name);
    if (!row) {
      await createEndpoint(client, jobId, input.name, spec, now, random);
      changes.push({ job: job.name, endpoint: input.name, action: 'created' });
      continue;
    }
    const restored = row.archivedAt !== null;
    if (!restored && canonicalJson(row.spec) === canonicalJson(spec)) {
      changes.push({ job: job.name, endpoint: input.name, action: 'unchanged' });
      continue;
    }
    await updateEndpointSpec(client, row.id, spec);
    const note = await replanIfFree(client, row, spec, hints.get(row.id) ?? [], now, random);
    changes.push({ job: job.name, endpoint: input.name, action: restored ? 'restored' : 'updated', ...(note ? { note } : {}) });
  }
  const removed = [...existing.values()].filter((row) => row.archivedAt === null);
  await archiveEndpoints(client, removed.map((row) => row.id));
  for (const row of removed) changes.push({ job: job.name, endpoint: row.name, action: 'archived' });
  return changes;
}

async function createEndpoint(client: PoolClient, jobId: string, name: string, spec: EndpointSpec, now: Date, random: () => number): Promise<void> {
  const id = newId();
  const created = createEndpointSnapshot(now);
  await insertEndpoint(client, { id, jobId, name, spec, bucket: bucketOf(id), state: stateOf(created.snapshot), snapshot: persistSnapshot(created.snapshot) });
  const write = planWrite(created.snapshot, null, { id, version: 1, spec, hints: [], userPause: null, now, random }, [created.record]);
  await commitMachines(client, null, [], [write]);
}

/** Re-plans an idle or paused machine at once; a leased one picks the new spec up after its run. */
async function replanIfFree(client: PoolClient, row: EndpointRow, spec: EndpointSpec, hints: readonly Hint[], now: Date, random: () => number): Promise<string | undefined> {
  if (row.leaseOwner !== null || (row.state !== 'idle' && row.state !== 'paused')) {
    return `endpoint is ${row.state} on ${row.leaseOwner ?? 'no node'}: the new schedule applies after that run`;
  }
  const { snapshot } = restoreSnapshot(row.snapshot, row);
  const write = planWrite(snapshot, { type: 'REPLAN', reason: 'spec changed' }, { id: row.id, version: row.version, spec, hints, userPause: userPauseOf(row), now, random });
  await commitMachines(client, null, [], [write]);
  return undefined;
}

/** JSON with sorted keys: jsonb reorders keys, so plain stringify cannot compare specs. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner,
  );
}
