import type { ServiceImpl } from '@connectrpc/connect';
import { applyJobs, archiveJob, createJob, setJobPause, updateJobFields, type JobInput } from '@tickwise/catalog';
import { countJobs, getJob, listJobs, type JobView } from '@tickwise/db';
import { applySizeProblems, nameSchema, type EndpointInput } from '@tickwise/machines';
import { z } from 'zod';
import { callerOf } from '../auth.ts';
import { jobMessage } from '../convert.ts';
import { isTickwiseError, TickwiseError, type FieldViolation } from '@tickwise/platform';
import type { JobService } from '@tickwise/api';
import { endpointInputOf } from '../spec.ts';
import { notifyTargetsOf } from '../notify.ts';
import { decodePageToken, id, LIMITS, namePrefix, nextToken, pageSize, pageToken, parse, QUOTAS, requiredReason, requireFuture, timestamp } from '../validate.ts';
import type { ServiceDeps } from './deps.ts';

const createSchema = z.object({
  name: nameSchema,
  synthetic: z.boolean(),
  endpoints: z.array(z.unknown()).max(LIMITS.endpointsPerRequest, `must have at most ${LIMITS.endpointsPerRequest} endpoints (add more with CreateEndpoint)`),
});
const applySchema = z.object({
  jobs: z
    .array(z.object({ name: nameSchema, synthetic: z.boolean(), endpoints: z.array(z.unknown()) }))
    .min(1, 'must list at least one job')
    .superRefine((jobs, ctx) => {
      for (const problem of applySizeProblems(jobs)) ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
      // The request's own limit (a jobs file on the database path has its size limits instead).
      const endpoints = jobs.reduce((sum, job) => sum + job.endpoints.length, 0);
      if (endpoints > LIMITS.endpointsPerApply) ctx.addIssue({ code: 'custom', message: `must have at most ${LIMITS.endpointsPerApply} endpoints in all (this has ${endpoints}; apply a bigger file on the database, or in several calls)` });
    }),
  dryRun: z.boolean(),
});
const jobIdSchema = z.object({ jobId: id });
const listSchema = z.object({ pageSize, pageToken, namePrefix, includeArchived: z.boolean() });
const updateSchema = z.object({ jobId: id, synthetic: z.boolean().optional() });
const pauseSchema = z.object({ jobId: id, reason: requiredReason, until: timestamp });

async function loadJob(deps: ServiceDeps, tenantId: string, jobId: string): Promise<JobView> {
  const job = await getJob(deps.pool, tenantId, jobId);
  if (!job) throw new TickwiseError('not_found', `job ${jobId} does not exist`);
  return job;
}

/** Every endpoint of a request checked, all problems reported together; names must differ. */
export function endpointInputsOf(specs: readonly Parameters<typeof endpointInputOf>[0][], prefix: string): EndpointInput[] {
  const violations: FieldViolation[] = [];
  const inputs: EndpointInput[] = [];
  const seen = new Map<string, number>();
  specs.forEach((spec, index) => {
    try {
      const input = endpointInputOf(spec, `${prefix}[${index}]`);
      const first = seen.get(input.name);
      if (first !== undefined) violations.push({ field: `${prefix}[${index}].name`, reason: `"${input.name}" is also the name of ${prefix}[${first}]` });
      seen.set(input.name, index);
      inputs.push(input);
    } catch (error) {
      if (!isTickwiseError(error, 'invalid_argument')) throw error;
      violations.push(...error.violations);
    }
  });
  if (violations.length > 0) throw TickwiseError.invalid(violations);
  return inputs;
}

/** Runs both checks and reports the problems of both together. */
function both<A, B>(first: () => A, second: () => B): [A, B] {
  const violations: FieldViolation[] = [];
  const attempt = <T>(check: () => T): T | undefined => {
    try {
      return check();
    } catch (error) {
      if (!isTickwiseError(error, 'invalid_argument')) throw error;
      violations.push(...error.violations);
      return undefined;
    }
  };
  const a = attempt(first);
  const b = attempt(second);
  if (violations.length > 0) throw TickwiseError.invalid(violations);
  return [a as A, b as B];
}

export function jobService(deps: ServiceDeps): ServiceImpl<typeof JobService> {
  return {
    async createJob(request, context) {
      const { tenantId } = callerOf(context);
      const [input, [endpoints, notify]] = both(
        () => parse(createSchema, request),
        () =>
          both(
            () => endpointInputsOf(request.endpoints.slice(0, LIMITS.endpointsPerRequest), 'endpoints'),
            () => notifyTargetsOf(request.notify, 'notify'),
          ),
      );
      if ((await countJobs(deps.pool, tenantId)) >= QUOTAS.jobsPerTenant) {
        throw new TickwiseError('resource_exhausted', `a tenant may have at most ${QUOTAS.jobsPerTenant} jobs (archived ones included)`);
      }
      const created = await createJob(deps.pool, tenantId, { name: input.name, synthetic: input.synthetic, endpoints, notify }, { now: deps.now, targetPolicy: deps.config.targetPolicy });
      return {
        job: jobMessage(await loadJob(deps, tenantId, created.jobId)),
        changes: created.changes.map((change) => ({ endpoint: change.endpoint ?? '', action: change.action, note: change.note ?? '' })),
      };
    },

    async getJob(request, context) {
      const { tenantId } = callerOf(context);
      const { jobId } = parse(jobIdSchema, request);
      return { job: jobMessage(await loadJob(deps, tenantId, jobId)) };
    },

    async listJobs(request, context) {
      const { tenantId } = callerOf(context);
      const input = parse(listSchema, request);
      const afterName = decodePageToken(input.pageToken, (after) => nameSchema.safeParse(after).success);
      const jobs = await listJobs(deps.pool, tenantId, { limit: input.pageSize, afterName, namePrefix: input.namePrefix, includeArchived: input.includeArchived });
      return { jobs: jobs.map(jobMessage), nextPageToken: nextToken(jobs, input.pageSize, (job) => job.name) };
    },

    async updateJob(request, context) {
      const { tenantId } = callerOf(context);
      const [input, notify] = both(
        () => parse(updateSchema, request),
        () => (request.notify ? notifyTargetsOf(request.notify.targets, 'notify.targets') : undefined),
      );
      const job = await loadJob(deps, tenantId, input.jobId);
      await updateJobFields(deps.pool, tenantId, input.jobId, { synthetic: input.synthetic ?? job.synthetic, ...(notify ? { notify } : {}) }, { targetPolicy: deps.config.targetPolicy });
      return { job: jobMessage(await loadJob(deps, tenantId, input.jobId)) };
    },

    async pauseJob(request, context) {
      const { tenantId } = callerOf(context);
      const input = parse(pauseSchema, request);
      requireFuture(input.until, deps.now(), 'until');
      return { endpointIds: await setJobPause(deps.pool, tenantId, input.jobId, { reason: input.reason, until: input.until ?? null }, deps.now()) };
    },

    async resumeJob(request, context) {
      const { tenantId } = callerOf(context);
      const { jobId } = parse(jobIdSchema, request);
      return { endpointIds: await setJobPause(deps.pool, tenantId, jobId, null, deps.now()) };
    },

    async applyJobs(request, context) {
      const { tenantId } = callerOf(context);
      const input = parse(applySchema, request);
      const violations: FieldViolation[] = [];
      const seen = new Map<string, number>();
      const jobs: JobInput[] = [];
      input.jobs.forEach((job, index) => {
        const first = seen.get(job.name);
        if (first !== undefined) violations.push({ field: `jobs[${index}].name`, reason: `"${job.name}" is also the name of jobs[${first}]` });
        seen.set(job.name, index);
        try {
          const [endpoints, notify] = both(
            () => endpointInputsOf(request.jobs[index]!.endpoints, `jobs[${index}].endpoints`),
            () => notifyTargetsOf(request.jobs[index]!.notify, `jobs[${index}].notify`),
          );
          jobs.push({ name: job.name, synthetic: job.synthetic, endpoints, notify });
        } catch (error) {
          if (!isTickwiseError(error, 'invalid_argument')) throw error;
          violations.push(...error.violations);
        }
      });
      if (violations.length > 0) throw TickwiseError.invalid(violations);
      const changes = await applyJobs(deps.pool, jobs, { tenantId, now: deps.now, dryRun: input.dryRun, maxJobs: QUOTAS.jobsPerTenant, targetPolicy: deps.config.targetPolicy });
      return { changes: changes.map((change) => ({ job: change.job, endpoint: change.endpoint ?? '', action: change.action, note: change.note ?? '' })) };
    },

    async archiveJob(request, context) {
      const { tenantId } = callerOf(context);
      const { jobId } = parse(jobIdSchema, request);
      const archived = await archiveJob(deps.pool, tenantId, jobId);
      return { job: jobMessage(await loadJob(deps, tenantId, jobId)), archivedEndpoints: archived };
    },
  };
}
