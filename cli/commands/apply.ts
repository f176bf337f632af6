import { applyJobs, type JobInput } from '@tickwise/catalog';
import { inlineCredentialHeaders } from '@tickwise/machines';
import { isTickwiseError, targetPolicyFromEnv } from '@tickwise/platform';
import { databaseActor } from '../audit-actor.ts';
import { jobsFileError, readJobsFile } from '../jobs-file.ts';
import { loggerFor, requireDatabaseUrl, type CliSettings } from '../settings.ts';
import { openPool, requireCurrentSchema } from './common.ts';
import { remoteApply } from './remote-apply.ts';

/**
 * Validates the whole file first, then applies it: through the API when TICKWISE_URL is set (the
 * key's tenant; see remote-apply.ts for what is atomic there), else on the database in one
 * transaction (DATABASE_URL, the default tenant), or changes nothing.
 */
export async function applyCommand(settings: CliSettings, file: string, dryRun: boolean, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const jobs = readJobsFile(file);
  for (const line of credentialSuggestions(file, jobs)) console.error(line);
  if (env.TICKWISE_URL) return remoteApply(env, file, jobs, dryRun);
  const endpoints = jobs.reduce((sum, job) => sum + job.endpoints.length, 0);
  if (dryRun) {
    console.log(`${file}: valid (${jobs.length} job(s), ${endpoints} endpoint(s)); nothing applied (--dry-run)`);
    return 0;
  }
  const targetPolicy = targetPolicyFromEnv(env);
  const log = loggerFor(settings, 'apply');
  const pool = await openPool(settings, requireDatabaseUrl(settings, 'apply'), log, 2);
  try {
    await requireCurrentSchema(pool);
    const changes = await applyJobs(pool, jobs, { targetPolicy, audit: databaseActor('apply') }).catch((error: unknown) => {
      // The catalog names each refused field (`jobs[0].endpoints[1].url`); say it as a file problem.
      if (!isTickwiseError(error, 'invalid_argument') || error.violations.length === 0) throw error;
      throw jobsFileError(file, error.violations.map((violation) => ({ line: 0, column: 0, path: violation.field, message: violation.reason })));
    });
    for (const change of changes) {
      const what = change.endpoint ? `endpoint ${change.job}/${change.endpoint}` : `job ${change.job}`;
      console.log(`${what}: ${change.action}${change.note ? ` (${change.note})` : ''}`);
    }
    return 0;
  } finally {
    await pool.end();
  }
}

/**
 * One line per header that carries a credential written inline (anyone with a read key would see
 * it masked, a write key in clear, and it sits in the database as written): the secret to store it
 * as, and what to write instead. A suggestion only: the apply goes on. Pure.
 */
export function credentialSuggestions(file: string, jobs: readonly JobInput[]): string[] {
  return jobs.flatMap((job, jobIndex) =>
    job.endpoints.flatMap((endpoint, index) =>
      inlineCredentialHeaders(endpoint.headers).map((header) => {
        const name = `${job.name}_${endpoint.name}_${header}`.toUpperCase().replace(/[^A-Z0-9_]+/g, '_').replace(/^[^A-Z]+/, '').slice(0, 63) || 'CREDENTIAL';
        const scheme = /^(Bearer|Basic|Token|Digest|ApiKey|Key)\s+/i.exec(endpoint.headers[header]!)?.[0] ?? '';
        return `${file}: header ${header} of jobs[${jobIndex}].endpoints[${index}] (${job.name}/${endpoint.name}) looks like a credential written inline: store it with "tickwise secrets set ${name}" and write "${header}: ${scheme}{{secrets.${name}}}"`;
      }),
    ),
  );
}
