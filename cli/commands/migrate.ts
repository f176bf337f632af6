import { migrate } from '@tickwise/db';
import { loggerFor, requireDatabaseUrl, type CliSettings } from '../settings.ts';
import { openPool } from './common.ts';

export async function migrateCommand(settings: CliSettings): Promise<number> {
  const log = loggerFor(settings, 'migrate');
  // No query timeout: a migration step (an index on a large table) may rightly run for minutes.
  const pool = await openPool(settings, requireDatabaseUrl(settings, 'migrate'), log, 2, { queryTimeoutMs: 0 });
  try {
    const result = await migrate(pool, { log: (line) => log.info(line) });
    console.log(result.applied.length === 0 ? `schema up to date (${result.flavour})` : `applied ${result.applied.length} migration step(s) on ${result.flavour}`);
    return 0;
  } finally {
    await pool.end();
  }
}
