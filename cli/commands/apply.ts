import { applyJobs, type JobInput } from '@tickwise/catalog';
import { checkTarget, TargetPolicyError, targetPolicyFromEnv } from '@tickwise/scheduler';
import { JobsFileError, readJobsFile, type FileProblem } from '../jobs-file.ts';
import { loggerFor, requireDatabaseUrl, UsageError, type CliSettings } from '../settings.ts';
import { openPool, requireCurrentSchema } from './common.ts';
import { remoteApply } from './remote-apply.ts';

/**
 * Validates the whole file first, then applies it: through the API when TICKWISE_URL is set (the
 * key's tenant; see remote-apply.ts for what is atomic there), else on the database in one
 * transaction (DATABASE_URL, the default tenant), or changes nothing.
 */
export async function applyCommand(settings: CliSettings, file: string, dryRun: boolean, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const jobs = readJobsFile(file);
  if (env.TICKWISE_URL) return remoteApply(env, file, jobs, dryRun);
  const endpoints = jobs.reduce((sum, job) => sum + job.endpoints.length, 0);
  if (dryRun) {
    console.log(`${file}: valid (${jobs.length} job(s), ${endpoints} endpoint(s)); nothing applied (--dry-run)`);
    return 0;
  }
  checkTargets(file, jobs, env);
  const log = loggerFor(settings, 'apply');
  const pool = await openPool(settings, requireDatabaseUrl(settings, 'apply'), log, 2);
  try {
    await requireCurrentSchema(pool);
    const changes = await applyJobs(pool, jobs);
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
 * Refuses endpoint URLs that TICKWISE_ALLOW_TARGETS / TICKWISE_DENY_TARGETS deny, as the gateway does
 * for the API path: give this command the nodes' lists. Throws a JobsFileError naming each endpoint.
 */
function checkTargets(file: string, jobs: readonly JobInput[], env: NodeJS.ProcessEnv): void {
  let policy;
  try {
    policy = targetPolicyFromEnv(env);
  } catch (error) {
    throw error instanceof TargetPolicyError ? new UsageError(error.message) : error;
  }
  const problems: FileProblem[] = [];
  jobs.forEach((job, jobIndex) =>
    job.endpoints.forEach((endpoint, index) => {
      const verdict = checkTarget(endpoint.url, policy);
      if (!verdict.allowed) problems.push({ line: 0, column: 0, path: `jobs[${jobIndex}].endpoints[${index}].url`, message: verdict.message });
    }),
  );
  if (problems.length > 0) throw new JobsFileError(file, problems);
}
