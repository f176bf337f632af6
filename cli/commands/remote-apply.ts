import { create } from '@bufbuild/protobuf';
import type { JobInput } from '@tickwise/catalog';
import { toEndpointSpec } from '@tickwise/machines';
import { isTickwiseError, TickwiseError } from '@tickwise/platform';
import { toApiError, withApi } from '../api-client.ts';
import { EndpointSpecSchema } from '@tickwise/api';
import { notifyMessages, specMessage } from '@tickwise/api';

/**
 * Applies a checked jobs file through the API, for the key's tenant, with one ApplyJobs call: the
 * server checks its limits (naming the same `jobs[i].endpoints[j]` paths as the file) and writes
 * every change in one transaction, or none. `dryRun` asks the server for the same
 * changes without writing them.
 */
export async function remoteApply(env: NodeJS.ProcessEnv, file: string, jobs: readonly JobInput[], dryRun: boolean): Promise<number> {
  return withApi(env, 'apply', async (api) => {
    const request = {
      dryRun,
      jobs: jobs.map((job) => ({
        name: job.name,
        synthetic: job.synthetic,
        endpoints: job.endpoints.map((input) => create(EndpointSpecSchema, specMessage(input.name, toEndpointSpec(input)))),
        notify: notifyMessages(job.notify ?? []),
      })),
    };
    let changes;
    try {
      ({ changes } = await api.jobs.applyJobs(request));
    } catch (error) {
      const refused = toApiError(error, api.settings);
      if (!isTickwiseError(refused) || !refused.fromApi) throw refused;
      throw new TickwiseError(refused.code, `${file} was not applied (nothing changed): ${refused.message}`, { fromApi: true, reason: refused.reason, violations: refused.violations, cause: refused });
    }
    for (const change of changes) {
      const what = change.endpoint ? `endpoint ${change.job}/${change.endpoint}` : `job ${change.job}`;
      console.log(`${what}: ${dryRun && change.action !== 'unchanged' ? `would be ${change.action}` : change.action}${change.note ? ` (${change.note})` : ''}`);
    }
    if (dryRun) console.log(`${file}: valid; nothing applied (--dry-run; the changes above are what ${api.settings.url} would make)`);
    return 0;
  });
}
