import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { ServiceImpl } from '@connectrpc/connect';
import { archiveEndpoint, createEndpoint, setPause, triggerNow, updateEndpoint } from '@tickwise/catalog';
import { countEndpointsOfJob, getEndpoint, getJob, listEndpoints, listHints, machineHistory, type EndpointView } from '@tickwise/db';
import { toEndpointSpec } from '@tickwise/machines';
import { z } from 'zod';
import { callerOf } from '../auth.ts';
import { endpointMessage, ENUM_TO_STATE, machineMessage, STATE_TO_ENUM } from '../convert.ts';
import { isUuid, TickwiseError } from '@tickwise/platform';
import { underField } from '../errors.ts';
import { type EndpointService, MachineState } from '@tickwise/api';
import { endpointInputOf } from '../spec.ts';
import { decodePageToken, enumValue, id, LIMITS, namePrefix, nextToken, optionalId, optionalReason, pageSize, pageToken, parse, QUOTAS, requiredReason, requireFuture, timestamp } from '../validate.ts';
import type { ServiceDeps } from './deps.ts';
import { previewScheduleCall } from './preview-schedule.ts';

const endpointIdSchema = z.object({ endpointId: id });
const createSchema = z.object({ jobId: id });
const listSchema = z.object({
  pageSize,
  pageToken,
  jobId: optionalId,
  states: z.array(enumValue(MachineState, 'MACHINE_STATE_UNSPECIFIED')).max(5, 'must list at most 5 states'),
  namePrefix,
  includeArchived: z.boolean(),
});
const pauseSchema = z.object({ endpointId: id, reason: requiredReason, until: timestamp });
const triggerSchema = z.object({ endpointId: id, reason: optionalReason });
const machineSchema = z.object({
  endpointId: id,
  transitionLimit: z.number().int().min(0, 'must not be negative').max(LIMITS.transitionsMax, `must be at most ${LIMITS.transitionsMax}`),
});

/** The tenant's endpoint, or NOT_FOUND: another tenant's id reads exactly as one that does not exist. */
export async function loadEndpoint(deps: ServiceDeps, tenantId: string, endpointId: string): Promise<EndpointView> {
  const row = await getEndpoint(deps.pool, tenantId, endpointId);
  if (!row) throw new TickwiseError('not_found', `endpoint ${endpointId} does not exist`);
  return row;
}

export function endpointService(deps: ServiceDeps): ServiceImpl<typeof EndpointService> {
  return {
    async createEndpoint(request, context) {
      const { tenantId } = callerOf(context);
      const { jobId } = parse(createSchema, request);
      const input = endpointInputOf(request.endpoint, 'endpoint');
      if (!(await getJob(deps.pool, tenantId, jobId))) throw new TickwiseError('not_found', `job ${jobId} does not exist`);
      if ((await countEndpointsOfJob(deps.pool, jobId)) >= QUOTAS.endpointsPerJob) {
        throw new TickwiseError('resource_exhausted', `a job may have at most ${QUOTAS.endpointsPerJob} endpoints (archived ones included)`);
      }
      const created = await underField('endpoint', () => createEndpoint(deps.pool, tenantId, jobId, input, { now: deps.now, targetPolicy: deps.config.targetPolicy }));
      return { endpoint: endpointMessage(await loadEndpoint(deps, tenantId, created.endpointId)), action: created.action, note: created.note ?? '' };
    },

    async getEndpoint(request, context) {
      const { tenantId, role } = callerOf(context);
      const { endpointId } = parse(endpointIdSchema, request);
      return { endpoint: endpointMessage(await loadEndpoint(deps, tenantId, endpointId), { maskCredentials: role === 'read' }) };
    },

    async listEndpoints(request, context) {
      const { tenantId, role } = callerOf(context);
      const input = parse(listSchema, request);
      const afterId = decodePageToken(input.pageToken, isUuid);
      const rows = await listEndpoints(deps.pool, tenantId, {
        limit: input.pageSize,
        afterId,
        jobId: input.jobId,
        states: input.states.map((state) => ENUM_TO_STATE[state]),
        namePrefix: input.namePrefix,
        includeArchived: input.includeArchived,
      });
      return { endpoints: rows.map((row) => endpointMessage(row, { maskCredentials: role === 'read' })), nextPageToken: nextToken(rows, input.pageSize, (row) => row.id) };
    },

    async updateEndpoint(request, context) {
      const { tenantId } = callerOf(context);
      const { endpointId } = parse(endpointIdSchema, request);
      const row = await loadEndpoint(deps, tenantId, endpointId);
      if (request.spec && request.spec.name !== '' && request.spec.name !== row.name) {
        throw TickwiseError.invalid([{ field: 'spec.name', reason: `renaming is not supported: leave it empty or "${row.name}"` }]);
      }
      const input = endpointInputOf(request.spec, 'spec', row.name);
      const result = await underField('spec', () => updateEndpoint(deps.pool, tenantId, endpointId, toEndpointSpec(input), { now: deps.now, targetPolicy: deps.config.targetPolicy }));
      return { endpoint: endpointMessage(await loadEndpoint(deps, tenantId, endpointId)), action: result.action, note: result.note ?? '' };
    },

    async pauseEndpoint(request, context) {
      const { tenantId } = callerOf(context);
      const input = parse(pauseSchema, request);
      requireFuture(input.until, deps.now(), 'until');
      const row = await loadEndpoint(deps, tenantId, input.endpointId);
      if (row.archivedAt !== null) throw new TickwiseError('failed_precondition', `endpoint "${row.name}" is archived`);
      await setPause(deps.pool, row.id, { reason: input.reason, until: input.until ?? null }, deps.now());
      return { endpoint: endpointMessage(await loadEndpoint(deps, tenantId, row.id)) };
    },

    async resumeEndpoint(request, context) {
      const { tenantId } = callerOf(context);
      const { endpointId } = parse(endpointIdSchema, request);
      const row = await loadEndpoint(deps, tenantId, endpointId);
      if (row.archivedAt !== null) throw new TickwiseError('failed_precondition', `endpoint "${row.name}" is archived`);
      await setPause(deps.pool, row.id, null, deps.now());
      return { endpoint: endpointMessage(await loadEndpoint(deps, tenantId, row.id)) };
    },

    async archiveEndpoint(request, context) {
      const { tenantId } = callerOf(context);
      const { endpointId } = parse(endpointIdSchema, request);
      await archiveEndpoint(deps.pool, tenantId, endpointId);
      return { endpoint: endpointMessage(await loadEndpoint(deps, tenantId, endpointId)) };
    },

    async triggerEndpoint(request, context) {
      const { tenantId } = callerOf(context);
      const input = parse(triggerSchema, request);
      const result = await triggerNow(deps.pool, tenantId, input.endpointId, { reason: input.reason, now: deps.now });
      return { hintId: result.hintId, state: STATE_TO_ENUM[result.state], nextRunAt: result.nextRunAt ? timestampFromDate(result.nextRunAt) : undefined, reason: result.reason ?? '', note: result.note ?? '' };
    },

    async getMachine(request, context) {
      const { tenantId } = callerOf(context);
      const input = parse(machineSchema, request);
      const row = await loadEndpoint(deps, tenantId, input.endpointId);
      const [history, hints] = await Promise.all([
        machineHistory(deps.pool, row.id, input.transitionLimit || LIMITS.transitionsDefault),
        listHints(deps.pool, row.id, { includePast: false, limit: LIMITS.pageSizeMax }),
      ]);
      return { machine: machineMessage(row, history, hints, deps.now()) };
    },

    previewSchedule: (request, context) => previewScheduleCall(deps, request, context, loadEndpoint),
  };
}
