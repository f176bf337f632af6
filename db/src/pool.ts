import pg from 'pg';
import { clientSafetyConfig, CONNECTION_SAFETY_DEFAULTS, withSafetyDefaults, type ConnectionSafety } from './connection-safety.ts';
import { dbError, isConnectionError } from './errors.ts';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
export type Queryable = Pick<pg.Pool, 'query'>;
export type DbFlavour = 'postgres' | 'yugabyte';

/** Connect and query timeouts and TCP keepalive (CONNECTION_SAFETY_DEFAULTS where left out). */
export interface PoolOptions extends Partial<ConnectionSafety> {
  connectionString: string;
  max?: number;
  applicationName?: string;
  /** Called for errors of idle clients (e.g. the server restarted); they must not crash the process. */
  onIdleError?: (error: Error) => void;
}

const SAFETY = new WeakMap<Pool, ConnectionSafety>();

/**
 * A `pg` pool whose idle-client errors are reported instead of thrown, with the connection safety of
 * `options`: a client whose query timed out is released with the error, and the pool destroys such
 * a client rather than handing out its hung socket again; an idle client that keepalive found dead
 * errors and is dropped too. So after a partition the pool fills with fresh connections.
 */
export function createPool(options: PoolOptions, PoolClass: typeof pg.Pool = pg.Pool): Pool {
  const safety = withSafetyDefaults(options);
  const pool = new PoolClass({
    connectionString: options.connectionString,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'tickwise',
    idleTimeoutMillis: 30_000,
    // Also bounds the wait for a free client when all are busy (pg-pool).
    ...clientSafetyConfig(safety),
  });
  pool.on('error', (error) => options.onIdleError?.(error));
  SAFETY.set(pool, safety);
  return pool;
}

/** The connection safety a pool was made with, for the connections opened beside it (LISTEN). */
export function connectionSafetyOf(pool: Pool): ConnectionSafety {
  return SAFETY.get(pool) ?? CONNECTION_SAFETY_DEFAULTS;
}

export const LOAD_BALANCE_MODES = ['true', 'any', 'only-primary', 'only-rr', 'prefer-primary', 'prefer-rr'] as const;

/** The YugabyteDB smart driver's connection properties (`@yugabytedb/pg`). */
export interface SmartDriverOptions {
  loadBalance: (typeof LOAD_BALANCE_MODES)[number];
  /** e.g. `aws.us-east-1.us-east-1a:1,aws.us-east-1.*:2`: prefer this node's own zone. */
  topologyKeys?: string;
  /** How often the driver refreshes its list of servers (seconds). */
  refreshIntervalSeconds?: number;
}

/**
 * A pool on plain `pg`, or with `smartDriver` on `@yugabytedb/pg` behind the same interface. The smart
 * driver is used only once the server has said it is YugabyteDB: against PostgreSQL its load
 * balancing opens connections without end (yb_servers() is missing) and reports no error.
 */
export async function openPool(options: PoolOptions & { smartDriver?: SmartDriverOptions }): Promise<Pool> {
  if (!options.smartDriver) return createPool(options);
  const probe = new pg.Client({ connectionString: options.connectionString, application_name: 'tickwise-probe', ...clientSafetyConfig(withSafetyDefaults(options)) });
  await probe.connect();
  try {
    if ((await detectFlavour(probe)) !== 'yugabyte') {
      throw dbError('unavailable', 'TICKWISE_YB_LOAD_BALANCE is set, but the server at DATABASE_URL is not YugabyteDB (its version() has no -YB-); unset it: load balancing against PostgreSQL opens connections without end');
    }
  } finally {
    await probe.end();
  }
  const url = new URL(options.connectionString);
  url.searchParams.set('loadBalance', options.smartDriver.loadBalance);
  if (options.smartDriver.topologyKeys) url.searchParams.set('topologyKeys', options.smartDriver.topologyKeys);
  if (options.smartDriver.refreshIntervalSeconds !== undefined) url.searchParams.set('ybServersRefreshInterval', String(options.smartDriver.refreshIntervalSeconds));
  const { default: yb } = await import('@yugabytedb/pg');
  return createPool({ ...options, connectionString: url.toString() }, yb.Pool);
}

/** YugabyteDB reports a PostgreSQL version string with a `-YB-` part. */
export async function detectFlavour(db: Queryable): Promise<DbFlavour> {
  const { rows } = await db.query<{ version: string }>('SELECT version() AS version');
  return rows[0]?.version.includes('-YB-') ? 'yugabyte' : 'postgres';
}

/**
 * Runs `work` in one transaction on one client; rolls back on any error. The server ends the
 * transaction if it sits idle longer than the pool's query timeout: should this process be cut off
 * mid-transaction, its row locks go then, not when the server's TCP gives up on the connection
 * (hours), and peers claiming with SKIP LOCKED do not skip those rows meanwhile. SET LOCAL lasts
 * only the transaction, so a pooler in transaction mode takes it, unlike a startup parameter.
 */
export async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  // The server may end the session between two statements (that idle limit, a restart): the error
  // must not go unhandled and crash the process; the next statement fails instead.
  const onError = (error: Error) => (broken ??= error);
  client.on('error', onError);
  try {
    const idleLimitMs = connectionSafetyOf(pool).queryTimeoutMs;
    await client.query(idleLimitMs > 0 ? `BEGIN; SET LOCAL idle_in_transaction_session_timeout = ${Math.round(idleLimitMs)}` : 'BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    if (isConnectionError(error)) broken = error as Error;
    else await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
    throw error;
  } finally {
    client.removeListener('error', onError);
    // A client whose connection broke is destroyed rather than returned to the pool.
    client.release(broken);
  }
}
