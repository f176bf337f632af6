import { create } from '@bufbuild/protobuf';
import type { JobInput } from '@tickwise/catalog';
import { toEndpointSpec } from '@tickwise/machines';
import { ApiError, toApiError, withApi } from '../api-client.ts';
import { JobsFileError, type FileProblem } from '../jobs-file.ts';
import { EndpointSpecSchema } from '../../services/gateway/src/gen/tickwise/v1/resources_pb.ts';
import { specMessage } from '../../services/gateway/src/spec.ts';
import { LIMITS, QUOTAS } from '../../services/gateway/src/validate.ts';

/**
 * The gateway's size limits, checked before anything is sent so that a problem is reported with the
 * file's own paths; throws a JobsFileError listing every problem. Pure; executes nothing.
 */
export function checkApiLimits(file: string, jobs: readonly JobInput[]): void {
  const problems: FileProblem[] = [];
  const at = (path: string, message: string) => problems.push({ line: 0, column: 0, path, message });
  if (jobs.length > LIMITS.jobsPerApply) at('jobs', `one apply through the API takes at most ${LIMITS.jobsPerApply} jobs; split the file`);
  const endpoints = jobs.reduce((sum, job) => sum + job.endpoints.length, 0);
  if (endpoints > LIMITS.endpointsPerApply) at('jobs', `one apply through the API takes at most ${LIMITS.endpointsPerApply} endpoints in all (this file has ${endpoints}); split the file`);
  jobs.forEach((job, jobIndex) => {
    if (job.endpoints.length > QUOTAS.endpointsPerJob) at(`jobs[${jobIndex}].endpoints`, `a job may have at most ${QUOTAS.endpointsPerJob} endpoints`);
    job.endpoints.forEach((endpoint, index) => {
      const path = `jobs[${jobIndex}].endpoints[${index}]`;
      if (endpoint.url.length > LIMITS.urlMax) at(`${path}.url`, `must be at most ${LIMITS.urlMax} characters`);
      const headers = Object.entries(endpoint.headers);
      if (headers.length > LIMITS.headersMax) at(`${path}.headers`, `must have at most ${LIMITS.headersMax} entries`);
      for (const [name, value] of headers) if (value.length > LIMITS.headerValueMax) at(`${path}.headers.${name}`, `must be at most ${LIMITS.headerValueMax} characters`);
      if (endpoint.body !== undefined && Buffer.byteLength(JSON.stringify(endpoint.body)) > LIMITS.bodyMaxBytes) at(`${path}.body`, `must be at most ${LIMITS.bodyMaxBytes} bytes as JSON`);
    });
  });
  if (problems.length > 0) throw new JobsFileError(file, problems);
}

/**
 * Applies a checked jobs file through the API, for the key's tenant, with one ApplyJobs call: the
 * server writes every change in one transaction, or none. `dryRun` asks the server for the same
 * changes without writing them.
 */
export async function remoteApply(env: NodeJS.ProcessEnv, file: string, jobs: readonly JobInput[], dryRun: boolean): Promise<number> {
  checkApiLimits(file, jobs);
  return withApi(env, 'apply', async (api) => {
    const request = {
      dryRun,
      jobs: jobs.map((job) => ({
        name: job.name,
        synthetic: job.synthetic,
        endpoints: job.endpoints.map((input) => create(EndpointSpecSchema, specMessage(input.name, toEndpointSpec(input)))),
      })),
    };
    let changes;
    try {
      ({ changes } = await api.jobs.applyJobs(request));
    } catch (error) {
      const refused = toApiError(error, api.settings);
      throw refused instanceof ApiError ? new ApiError(refused.code, `${file} was not applied (nothing changed): ${refused.message}`) : refused;
    }
    for (const change of changes) {
      const what = change.endpoint ? `endpoint ${change.job}/${change.endpoint}` : `job ${change.job}`;
      console.log(`${what}: ${dryRun && change.action !== 'unchanged' ? `would be ${change.action}` : change.action}${change.note ? ` (${change.note})` : ''}`);
    }
    if (dryRun) console.log(`${file}: valid; nothing applied (--dry-run; the changes above are what ${api.settings.url} would make)`);
    return 0;
  });
}
