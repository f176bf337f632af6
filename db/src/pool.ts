import pg from 'pg';
import { isConnectionError } from './errors.ts';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
export type Queryable = Pick<pg.Pool, 'query'>;
export type DbFlavour = 'postgres' | 'yugabyte';

export interface PoolOptions {
  connectionString: string;
  max?: number;
  applicationName?: string;
  /** Called for errors of idle clients (e.g. the server restarted); they must not crash the process. */
  onIdleError?: (error: Error) => void;
}

/** A `pg` pool whose idle-client errors are reported instead of thrown. */
export function createPool(options: PoolOptions): Pool {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'tickwise',
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
  });
  pool.on('error', (error) => options.onIdleError?.(error));
  return pool;
}

/** YugabyteDB reports a PostgreSQL version string with a `-YB-` part. */
export async function detectFlavour(db: Queryable): Promise<DbFlavour> {
  const { rows } = await db.query<{ version: string }>('SELECT version() AS version');
  return rows[0]?.version.includes('-YB-') ? 'yugabyte' : 'postgres';
}

/** Runs `work` in one transaction on one client; rolls back on any error. */
export async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    if (isConnectionError(error)) broken = error as Error;
    else await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
    throw error;
  } finally {
    // A client whose connection broke is destroyed rather than returned to the pool.
    client.release(broken);
  }
}
