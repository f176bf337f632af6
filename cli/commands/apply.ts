import { applyJobs } from '@tickwise/catalog';
import { readJobsFile } from '../jobs-file.ts';
import { loggerFor, requireDatabaseUrl, type CliSettings } from '../settings.ts';
import { openPool, requireCurrentSchema } from './common.ts';

/** Validates the whole file first, then applies it in one transaction, or changes nothing. */
export async function applyCommand(settings: CliSettings, file: string, dryRun: boolean): Promise<number> {
  const jobs = readJobsFile(file);
  const endpoints = jobs.reduce((sum, job) => sum + job.endpoints.length, 0);
  if (dryRun) {
    console.log(`${file}: valid (${jobs.length} job(s), ${endpoints} endpoint(s)); nothing applied (--dry-run)`);
    return 0;
  }
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
