import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { ServiceImpl } from '@connectrpc/connect';
import { apiKeyById, countEndpoints, endpointSummaries, tenantById, type EndpointSummaryRow } from '@tickwise/db';
import { z } from 'zod';
import { callerOf } from '../auth.ts';
import { ENUM_TO_STATE, ROLE_TO_ENUM, runMessage, STATE_TO_ENUM } from '../convert.ts';
import { isUuid, TickwiseError } from '@tickwise/platform';
import { MachineState, type OverviewService, RunStatus } from '@tickwise/api';
import { decodePageToken, enumValue, LIMITS, nextToken, pageSize, pageToken, parse } from '../validate.ts';
import type { ServiceDeps } from './deps.ts';

export const SUMMARY_LIMITS = { recentRunsDefault: 20, recentRunsMax: 50 } as const;

const summariesSchema = z.object({
  pageSize,
  pageToken,
  // Not validate.ts's optionalId: its union reports a bad id as "Invalid input".
  jobId: z
    .string()
    .refine((text) => text === '' || isUuid(text), 'must be a UUID')
    .transform((text) => (text === '' ? null : text.toLowerCase())),
  states: z.array(enumValue(MachineState, 'MACHINE_STATE_UNSPECIFIED')).max(5, 'must list at most 5 states'),
  nameContains: z
    .string()
    .max(LIMITS.namePrefixMax, `must be at most ${LIMITS.namePrefixMax} characters`)
    .regex(/^[A-Za-z0-9._-]*$/, 'may hold only letters, digits, ".", "_" and "-"')
    .transform((text) => (text === '' ? null : text)),
  includeArchived: z.boolean(),
  recentRuns: z
    .number()
    .int()
    .min(0, 'must not be negative')
    .max(SUMMARY_LIMITS.recentRunsMax, `must be at most ${SUMMARY_LIMITS.recentRunsMax}`)
    .transform((count) => count || SUMMARY_LIMITS.recentRunsDefault),
});

const ts = (date: Date | null) => (date ? timestampFromDate(date) : undefined);

/** A summary row as the API shows it. Pure. */
export function summaryMessage(row: EndpointSummaryRow) {
  return {
    endpointId: row.id,
    jobId: row.jobId,
    jobName: row.jobName,
    name: row.name,
    state: STATE_TO_ENUM[row.state],
    nextRunAt: ts(row.nextRunAt),
    reason: row.reason ?? '',
    paused: row.pausedReason !== null,
    archived: row.archivedAt !== null,
    version: row.version,
    leaseOwner: row.leaseOwner ?? '',
    lastRun: row.lastRun ? runMessage(row.lastRun) : undefined,
    recent: row.recent.map((point) => ({
      runId: point.id,
      status: point.status === 'succeeded' ? RunStatus.SUCCEEDED : RunStatus.FAILED,
      durationMs: point.durationMs,
      httpStatus: point.httpStatus ?? undefined,
      finishedAt: ts(point.finishedAt),
    })),
    activeHints: row.activeHints,
  };
}

export function overviewService(deps: ServiceDeps): ServiceImpl<typeof OverviewService> {
  return {
    async whoAmI(_request, context) {
      const caller = callerOf(context);
      const [key, tenant] = await Promise.all([apiKeyById(deps.pool, caller.keyId), tenantById(deps.pool, caller.tenantId)]);
      // The key was found a moment ago by the interceptor; gone now means it was just deleted.
      if (!key || !tenant) throw new TickwiseError('unauthenticated', 'invalid or revoked API key');
      return { tenantId: tenant.id, tenantName: tenant.name, role: ROLE_TO_ENUM[caller.role], keyId: key.id, keyName: key.name, keyPrefix: key.prefix };
    },

    async listEndpointSummaries(request, context) {
      const { tenantId } = callerOf(context);
      const input = parse(summariesSchema, request);
      const afterId = decodePageToken(input.pageToken, isUuid);
      const filter = { jobId: input.jobId, states: input.states.map((state) => ENUM_TO_STATE[state]), nameContains: input.nameContains, includeArchived: input.includeArchived };
      const [rows, total] = await Promise.all([
        endpointSummaries(deps.pool, tenantId, { ...filter, limit: input.pageSize, afterId, recentRuns: input.recentRuns }),
        countEndpoints(deps.pool, tenantId, filter),
      ]);
      return { summaries: rows.map(summaryMessage), nextPageToken: nextToken(rows, input.pageSize, (row) => row.id), totalSize: total };
    },
  };
}
