import { migrate } from '@tickwise/db';
import { loggerFor, requireDatabaseUrl, type CliSettings } from '../settings.ts';
import { openPool } from './common.ts';

export async function migrateCommand(settings: CliSettings): Promise<number> {
  const log = loggerFor(settings, 'migrate');
  const pool = await openPool(settings, requireDatabaseUrl(settings, 'migrate'), log, 2);
  try {
    const result = await migrate(pool, { log: (line) => log.info(line) });
    console.log(result.applied.length === 0 ? `schema up to date (${result.flavour})` : `applied ${result.applied.length} migration step(s) on ${result.flavour}`);
    return 0;
  } finally {
    await pool.end();
  }
}
