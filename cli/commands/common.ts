import { openPool as openDbPool, pendingMigrations, type ConnectionSafety, type Pool } from '@tickwise/db';
import { invalidConfig, type Logger } from '@tickwise/platform';
import type { CliSettings } from '../settings.ts';

/**
 * The pool of a command: plain `pg`, or the YugabyteDB smart driver when the settings ask for it,
 * with the connection safety of the settings (`safety` overrides a field for this command).
 */
export function openPool(settings: CliSettings, connectionString: string, log: Logger, max = 10, safety: Partial<ConnectionSafety> = {}): Promise<Pool> {
  return openDbPool({
    connectionString,
    max,
    ...settings.connectionSafety,
    ...safety,
    smartDriver: settings.smartDriver,
    onIdleError: (error) => log.warn('database connection dropped', { error: error.message }),
  });
}

/**
 * Refuses to run services on a schema that `tickwise migrate` has not brought up to date: like a
 * missing DATABASE_URL, the deployment is not set up for the command yet (invalid_config, exit 2).
 */
export async function requireCurrentSchema(pool: Pool): Promise<void> {
  const pending = await pendingMigrations(pool);
  if (pending.length > 0) {
    throw invalidConfig(`the database schema is behind by ${pending.length} migration step(s) (first: ${pending[0]}); run "tickwise migrate" first`);
  }
}

/** Resolves on the first SIGINT or SIGTERM; a second one exits at once. */
export function untilSignal(log: Logger): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let received = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (received) {
        log.warn('second signal: exiting without a clean shutdown', { signal });
        process.exit(130);
      }
      received = true;
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
