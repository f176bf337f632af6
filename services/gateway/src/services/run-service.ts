import type { ServiceImpl } from '@connectrpc/connect';
import { getAnalysis, getRun, listAnalyses, listRuns, analysisOfTenant, skippedSlots, uuid7Time } from '@tickwise/db';
import { z } from 'zod';
import { callerOf } from '../auth.ts';
import { analysisMessage, runMessage, skippedMessage } from '../convert.ts';
import { isUuid, TickwiseError } from '@tickwise/platform';
import { type AnalysisService, type RunService, RunStatus } from '@tickwise/api';
import { decodePageToken, id, nextToken, pageSize, pageToken, parse } from '../validate.ts';
import type { ServiceDeps } from './deps.ts';
import { loadEndpoint } from './endpoint-service.ts';

const listRunsSchema = z.object({
  endpointId: id,
  pageSize,
  pageToken,
  status: z.number().refine((status) => status in RunStatus, 'is not a known value'),
});
const runIdSchema = z.object({ runId: id });
const listAnalysesSchema = z.object({ endpointId: id, pageSize, pageToken });
const analysisIdSchema = z.object({ analysisId: id });

export function runService(deps: ServiceDeps): ServiceImpl<typeof RunService> {
  return {
    async listRuns(request, context) {
      const { tenantId } = callerOf(context);
      const input = parse(listRunsSchema, request);
      const before = decodePageToken(input.pageToken, isUuid);
      await loadEndpoint(deps, tenantId, input.endpointId);
      const status = input.status === RunStatus.SUCCEEDED ? 'succeeded' : input.status === RunStatus.FAILED ? 'failed' : null;
      const runs = await listRuns(deps.pool, input.endpointId, { limit: input.pageSize, before, status });
      const nextPageToken = nextToken(runs, input.pageSize, (run) => run.id);
      // Run ids are UUIDv7: their times bound the page, so pages side by side cover the skips once.
      const window = { until: before ? uuid7Time(before) : null, since: nextPageToken && runs.length > 0 ? uuid7Time(runs.at(-1)!.id) : null };
      const skipped = await skippedSlots(deps.pool, input.endpointId, window);
      return { runs: runs.map(runMessage), nextPageToken, skipped: skipped.map(skippedMessage) };
    },

    async getRun(request, context) {
      const { tenantId } = callerOf(context);
      const { runId } = parse(runIdSchema, request);
      const run = await getRun(deps.pool, tenantId, runId);
      if (!run) throw new TickwiseError('not_found', `run ${runId} does not exist`);
      return { run: runMessage(run) };
    },
  };
}

export function analysisService(deps: ServiceDeps): ServiceImpl<typeof AnalysisService> {
  return {
    async listAnalyses(request, context) {
      const { tenantId } = callerOf(context);
      const input = parse(listAnalysesSchema, request);
      const before = decodePageToken(input.pageToken, isUuid);
      await loadEndpoint(deps, tenantId, input.endpointId);
      const analyses = await listAnalyses(deps.pool, input.endpointId, { limit: input.pageSize, before });
      return { analyses: analyses.map(analysisMessage), nextPageToken: nextToken(analyses, input.pageSize, (analysis) => analysis.id) };
    },

    async getAnalysis(request, context) {
      const { tenantId } = callerOf(context);
      const { analysisId } = parse(analysisIdSchema, request);
      const analysis = (await analysisOfTenant(deps.pool, tenantId, analysisId)) ? await getAnalysis(deps.pool, analysisId) : null;
      if (!analysis) throw new TickwiseError('not_found', `analysis ${analysisId} does not exist`);
      return { analysis: analysisMessage(analysis) };
    },
  };
}
