import { activeHints, archiveEndpoints, bucketOf, commitMachines, countJobs, DEFAULT_TENANT_ID, inTransaction, insertEndpoints, insertJob, jobNotify, lockEndpointsOfJob, lockJob, lockJobByName, lockTenantEndpoint, newId, notifyWake, setJobNotify, updateEndpointSpec, updateJob, withRetry, type EndpointRow, type JobRow, type Pool, type PoolClient } from '@tickwise/db';
import { createEndpointSnapshot, persistSnapshot, restoreSnapshot, stateOf, toEndpointSpec, type EndpointInput, type EndpointSpec, type Hint, type NotifyTarget } from '@tickwise/machines';
import { checkTarget, DEFAULT_TARGET_POLICY, TickwiseError, type FieldViolation, type TargetPolicy } from '@tickwise/platform';
import { planWrite, userPauseOf } from './machine-writes.ts';
import { applyDescription, recordChange, type AuditActor } from './audit.ts';
import { checkSecretRefs } from './secrets.ts';

export interface JobInput {
  name: string;
  synthetic: boolean;
  endpoints: EndpointInput[];
  /** Who is told of the job's endpoints failing, recovering or being paused; absent: nobody (an apply clears the list). */
  notify?: NotifyTarget[];
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
  /** Whose jobs these are; the database-side CLI writes the default tenant's. */
  tenantId?: string;
  /**
   * Which targets endpoints may call (TICKWISE_ALLOW_TARGETS / TICKWISE_DENY_TARGETS, read by the
   * caller's process): a URL it denies is refused here, when written, on every path that writes one.
   * Default: the built-in policy (cloud metadata denied).
   */
  targetPolicy?: TargetPolicy;
}

/**
 * Refuses the endpoint URLs the policy denies, all of them in one `invalid_argument` whose fields
 * are `<path>.url` (`jobs[0].endpoints[1].url`; `url` for a single endpoint). Pure.
 */
export function checkTargets(endpoints: readonly { path: string; url: string }[], policy: TargetPolicy = DEFAULT_TARGET_POLICY, notify: readonly { path: string; targets: readonly NotifyTarget[] }[] = []): void {
  const violations: FieldViolation[] = [];
  for (const { path, url } of endpoints) {
    const verdict = checkTarget(url, policy);
    if (!verdict.allowed) violations.push({ field: path ? `${path}.url` : 'url', reason: verdict.message });
  }
  violations.push(...notifyViolations(notify, policy));
  if (violations.length > 0) throw TickwiseError.invalid(violations, 'target_denied');
}

/**
 * Notification URLs the policy denies, as fields `<path>[i].<channel>` (`jobs[0].notify[1].webhook`;
 * `notify[1].slack` for a single job): they are called by the planner, under the same policy. Pure.
 */
function notifyViolations(jobs: readonly { path: string; targets: readonly NotifyTarget[] }[], policy: TargetPolicy): FieldViolation[] {
  const violations: FieldViolation[] = [];
  for (const { path, targets } of jobs) {
    targets.forEach((target, index) => {
      const verdict = checkTarget(target.url, policy);
      if (!verdict.allowed) violations.push({ field: `${path ? `${path}.` : ''}notify[${index}].${target.channel}`, reason: verdict.message });
    });
  }
  return violations;
}

/** Thrown inside the transaction of a dry run so that it rolls back; carries the changes out. */
class DryRunRollback extends Error {
  constructor(readonly changes: ApplyChange[]) {
    super('dry run: rolled back');
  }
}

/** A unique violation: two writers created the same name at once; the loser reads it as already_exists. */
function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === '23505';
}

/**
 * Creates or updates jobs and their endpoints, matched by name, all in one transaction. An endpoint
 * of a listed job that the input no longer lists is archived. Jobs not listed are left alone.
 * `dryRun` makes the same changes, reports them, and rolls them back. `maxJobs` (a tenant's quota)
 * refuses the whole apply with `resource_exhausted` when the new jobs would pass it. `audit` records
 * the apply in its own transaction (the CLI on the database; the API records its calls itself).
 */
export async function applyJobs(pool: Pool, jobs: readonly JobInput[], options: ApplyOptions & { dryRun?: boolean; maxJobs?: number; audit?: AuditActor } = {}): Promise<ApplyChange[]> {
  const now = options.now ?? (() => new Date());
  const random = options.random ?? Math.random;
  const tenantId = options.tenantId ?? DEFAULT_TENANT_ID;
  checkTargets(
    jobs.flatMap((job, jobIndex) => job.endpoints.map((endpoint, index) => ({ path: `jobs[${jobIndex}].endpoints[${index}]`, url: endpoint.url }))),
    options.targetPolicy,
    jobs.map((job, jobIndex) => ({ path: `jobs[${jobIndex}]`, targets: job.notify ?? [] })),
  );
  try {
    return await withRetry(() =>
      inTransaction(pool, async (client) => {
        await checkSecretRefs(client, tenantId, jobs.flatMap((job, jobIndex) => job.endpoints.map((spec, index) => ({ path: `jobs[${jobIndex}].endpoints[${index}]`, spec }))));
        const changes: ApplyChange[] = [];
        for (const job of jobs) {
          const existing = await lockJobByName(client, tenantId, job.name);
          changes.push(...(await applyJob(client, tenantId, existing, job, now(), random)).changes);
        }
        if (options.maxJobs !== undefined) {
          const count = await countJobs(client, tenantId);
          if (count > options.maxJobs) throw new TickwiseError('resource_exhausted', `a tenant may have at most ${options.maxJobs} jobs (archived ones included); this apply would make ${count}`);
        }
        if (options.dryRun) throw new DryRunRollback(changes);
        if (options.audit) {
          const { target, summary } = applyDescription(jobs.map((job) => job.name), changes);
          await recordChange(client, tenantId, options.audit, target, summary);
        }
        await notifyWake(client);
        return changes;
      }),
    );
  } catch (error) {
    if (error instanceof DryRunRollback) return error.changes;
    throw error;
  }
}

/**
 * Creates one job of the tenant with its endpoints. A job of that name that is not archived is
 * `already_exists`; an archived one is restored with these endpoints, as `applyJobs` would.
 */
export async function createJob(pool: Pool, tenantId: string, job: JobInput, options: Omit<ApplyOptions, 'tenantId'> = {}): Promise<{ jobId: string; changes: ApplyChange[] }> {
  const now = options.now ?? (() => new Date());
  const random = options.random ?? Math.random;
  checkTargets(job.endpoints.map((endpoint, index) => ({ path: `endpoints[${index}]`, url: endpoint.url })), options.targetPolicy, [{ path: '', targets: job.notify ?? [] }]);
  try {
    return await withRetry(() =>
      inTransaction(pool, async (client) => {
        await checkSecretRefs(client, tenantId, job.endpoints.map((spec, index) => ({ path: `endpoints[${index}]`, spec })));
        const existing = await lockJobByName(client, tenantId, job.name);
        if (existing && existing.archivedAt === null) throw new TickwiseError('already_exists', `job "${job.name}" already exists (id ${existing.id})`);
        const result = await applyJob(client, tenantId, existing, job, now(), random);
        await notifyWake(client);
        return result;
      }),
    );
  } catch (error) {
    if (isUniqueViolation(error)) throw new TickwiseError('already_exists', `job "${job.name}" already exists`);
    throw error;
  }
}

/**
 * Changes a job's own fields (`notify` when given: the whole list, under the target policy).
 * Archived jobs are `failed_precondition`: restore one by creating it again.
 */
export async function updateJobFields(pool: Pool, tenantId: string, jobId: string, changes: { synthetic: boolean; notify?: NotifyTarget[] }, options: Pick<ApplyOptions, 'targetPolicy'> = {}): Promise<void> {
  if (changes.notify) checkTargets([], options.targetPolicy, [{ path: '', targets: changes.notify }]);
  await withRetry(() =>
    inTransaction(pool, async (client) => {
      const job = await lockJob(client, tenantId, jobId);
      if (!job) throw new TickwiseError('not_found', `job ${jobId} does not exist`);
      if (job.archivedAt !== null) throw new TickwiseError('failed_precondition', `job "${job.name}" is archived: create it again to restore it`);
      if (job.synthetic !== changes.synthetic) await updateJob(client, jobId, { synthetic: changes.synthetic });
      if (changes.notify && canonicalJson(await jobNotify(client, jobId)) !== canonicalJson(changes.notify)) await setJobNotify(client, jobId, changes.notify);
    }),
  );
}

/**
 * Adds one endpoint to a job of the tenant. A live endpoint of that name is `already_exists`; an
 * archived one is restored with the new spec (and re-planned), as listing it again in a file does.
 */
export async function createEndpoint(pool: Pool, tenantId: string, jobId: string, input: EndpointInput, options: Omit<ApplyOptions, 'tenantId'> = {}): Promise<{ endpointId: string; action: 'created' | 'restored'; note?: string }> {
  const now = options.now ?? (() => new Date());
  const random = options.random ?? Math.random;
  checkTargets([{ path: '', url: input.url }], options.targetPolicy);
  try {
    return await withRetry(() =>
      inTransaction(pool, async (client) => {
        const job = await lockJob(client, tenantId, jobId);
        if (!job) throw new TickwiseError('not_found', `job ${jobId} does not exist`);
        if (job.archivedAt !== null) throw new TickwiseError('failed_precondition', `job "${job.name}" is archived: create it again to restore it`);
        await checkSecretRefs(client, tenantId, [{ path: '', spec: input }]);
        const row = (await lockEndpointsOfJob(client, jobId)).find((each) => each.name === input.name);
        if (row && row.archivedAt === null) throw new TickwiseError('already_exists', `endpoint "${input.name}" of job "${job.name}" already exists (id ${row.id})`);
        const spec = toEndpointSpec(input);
        let result: { endpointId: string; action: 'created' | 'restored'; note?: string };
        if (row) {
          await updateEndpointSpec(client, row.id, spec);
          const hints = (await activeHints(client, [row.id])).get(row.id) ?? [];
          const note = await replanIfFree(client, row, spec, hints, now(), random);
          result = { endpointId: row.id, action: 'restored', ...(note ? { note } : {}) };
        } else {
          const [endpointId] = await insertPlannedEndpoints(client, jobId, [{ name: input.name, spec }], now(), random);
          result = { endpointId: endpointId!, action: 'created' };
        }
        await notifyWake(client);
        return result;
      }),
    );
  } catch (error) {
    if (isUniqueViolation(error)) throw new TickwiseError('already_exists', `endpoint "${input.name}" already exists`);
    throw error;
  }
}

/**
 * Replaces the spec of an endpoint of the tenant (its name stays). Free machines are re-planned at
 * once; a leased one picks the spec up after its run (the change's note says so). Archived
 * endpoints are `failed_precondition`.
 */
export async function updateEndpoint(pool: Pool, tenantId: string, endpointId: string, spec: EndpointSpec, options: Omit<ApplyOptions, 'tenantId'> = {}): Promise<{ action: 'updated' | 'unchanged'; note?: string }> {
  const now = options.now ?? (() => new Date());
  const random = options.random ?? Math.random;
  checkTargets([{ path: '', url: spec.url }], options.targetPolicy);
  return withRetry(() =>
    inTransaction(pool, async (client) => {
      const row = await lockTenantEndpoint(client, tenantId, endpointId);
      if (!row) throw new TickwiseError('not_found', `endpoint ${endpointId} does not exist`);
      if (row.archivedAt !== null) throw new TickwiseError('failed_precondition', `endpoint "${row.name}" is archived: create it again in its job to restore it`);
      if (canonicalJson(row.spec) === canonicalJson(spec)) return { action: 'unchanged' };
      await checkSecretRefs(client, tenantId, [{ path: '', spec }]);
      await updateEndpointSpec(client, row.id, spec);
      const hints = (await activeHints(client, [row.id])).get(row.id) ?? [];
      const note = await replanIfFree(client, row, spec, hints, now(), random);
      await notifyWake(client);
      return { action: 'updated', ...(note ? { note } : {}) };
    }),
  );
}

async function applyJob(client: PoolClient, tenantId: string, existingJob: JobRow | null, job: JobInput, now: Date, random: () => number): Promise<{ jobId: string; changes: ApplyChange[] }> {
  const changes: ApplyChange[] = [];
  const jobId = existingJob?.id ?? newId();
  const notify = job.notify ?? [];
  if (!existingJob) {
    await insertJob(client, { id: jobId, tenantId, name: job.name, synthetic: job.synthetic });
    if (notify.length > 0) await setJobNotify(client, jobId, notify);
    changes.push({ job: job.name, endpoint: null, action: 'created' });
  } else {
    const notifyChanged = canonicalJson(await jobNotify(client, jobId)) !== canonicalJson(notify);
    if (existingJob.synthetic !== job.synthetic || existingJob.archivedAt !== null) await updateJob(client, jobId, { synthetic: job.synthetic });
    if (notifyChanged) await setJobNotify(client, jobId, notify);
    if (existingJob.synthetic !== job.synthetic || existingJob.archivedAt !== null || notifyChanged) {
      changes.push({ job: job.name, endpoint: null, action: existingJob.archivedAt ? 'restored' : 'updated' });
    }
  }
  const existing = new Map((existingJob ? await lockEndpointsOfJob(client, jobId) : []).map((row) => [row.name, row]));
  const hints = await activeHints(client, [...existing.values()].map((row) => row.id));
  const created: { name: string; spec: EndpointSpec }[] = [];
  for (const input of job.endpoints) {
    const spec = toEndpointSpec(input);
    const row = existing.get(input.name);
    existing.delete(input.name);
    if (!row) {
      created.push({ name: input.name, spec });
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
  await insertPlannedEndpoints(client, jobId, created, now, random);
  const removed = [...existing.values()].filter((row) => row.archivedAt === null);
  await archiveEndpoints(client, removed.map((row) => row.id));
  for (const row of removed) changes.push({ job: job.name, endpoint: row.name, action: 'archived' });
  return { jobId, changes };
}

/** New machines are written this many at a time: two statements per batch, not two per endpoint. */
const CREATE_BATCH = 1_000;

/**
 * Creates machines of one job and plans their first runs, in batches: one statement inserts a batch
 * in its initial state, one plans it (as `commitMachines` plans any machine). Returns the new ids.
 */
async function insertPlannedEndpoints(client: PoolClient, jobId: string, endpoints: readonly { name: string; spec: EndpointSpec }[], now: Date, random: () => number): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < endpoints.length; start += CREATE_BATCH) {
    const batch = endpoints.slice(start, start + CREATE_BATCH).map(({ name, spec }) => {
      const id = newId();
      const created = createEndpointSnapshot(now);
      const row = { id, name, spec, bucket: bucketOf(id), state: stateOf(created.snapshot), snapshot: persistSnapshot(created.snapshot) };
      return { row, write: planWrite(created.snapshot, null, { id, version: 1, spec, hints: [], userPause: null, now, random }, [created.record]) };
    });
    await insertEndpoints(client, jobId, batch.map((each) => each.row));
    await commitMachines(client, null, [], batch.map((each) => each.write));
    ids.push(...batch.map((each) => each.row.id));
  }
  return ids;
}

/**
 * Re-plans an idle or paused machine at once; a leased one picks the new spec up after its run. A
 * restored (archived) endpoint is planned as a new one: its first slot is never skipped as missed.
 */
async function replanIfFree(client: PoolClient, row: EndpointRow, spec: EndpointSpec, hints: readonly Hint[], now: Date, random: () => number): Promise<string | undefined> {
  if (row.leaseOwner !== null || (row.state !== 'idle' && row.state !== 'paused')) {
    return `endpoint is ${row.state} on ${row.leaseOwner ?? 'no node'}: the new schedule applies after that run`;
  }
  const { snapshot } = restoreSnapshot(row.snapshot, row);
  const event = row.archivedAt !== null ? ({ type: 'REPLAN', reason: 'restored', fresh: true } as const) : ({ type: 'REPLAN', reason: 'spec changed' } as const);
  const write = planWrite(snapshot, event, { id: row.id, version: row.version, spec, hints, userPause: userPauseOf(row), now, random });
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
