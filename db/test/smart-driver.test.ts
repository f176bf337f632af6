import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPool, type Pool } from '@tickwise/db';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';

/**
 * The smart driver needs YugabyteDB, which cannot run here. This database plays one: a version()
 * with "-YB-" earlier on the search path, and a yb_servers() listing this one server (and counting
 * its calls), which is all the driver asks of a cluster. The database is migrated before it plays.
 */
async function disguiseAsYugabyte(db: TestDatabase): Promise<void> {
  const port = Number(new URL(db.url).port || 5432);
  const database = new URL(db.url).pathname.slice(1);
  await db.pool.query(`CREATE TABLE yb_servers_calls (at timestamptz NOT NULL DEFAULT now())`);
  await db.pool.query(`CREATE FUNCTION public.version() RETURNS text LANGUAGE sql AS $$ SELECT 'PostgreSQL 15.12-YB-2025.2.0.0-b0 (test double)' $$`);
  await db.pool.query(
    `CREATE FUNCTION public.yb_servers() RETURNS TABLE (host text, port bigint, num_connections integer, node_type text, cloud text, region text, zone text, public_ip text, uuid text)
     LANGUAGE plpgsql AS $$
     BEGIN
       INSERT INTO yb_servers_calls DEFAULT VALUES;
       RETURN QUERY SELECT '127.0.0.1'::text, ${port}::bigint, 0, 'primary'::text, 'local'::text, 'test'::text, 'zone-a'::text, '127.0.0.1'::text, 'fake'::text;
     END $$`,
  );
  await db.pool.query(`ALTER DATABASE ${database} SET search_path = public, pg_catalog`);
}

describe('openPool with the YugabyteDB smart driver', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  it('refuses a server that is not YugabyteDB, before it opens a pool', async () => {
    await expect(openPool({ connectionString: db.url, smartDriver: { loadBalance: 'true' } })).rejects.toThrow(
      expect.objectContaining({ code: 'unavailable', message: expect.stringContaining('is not YugabyteDB') }),
    );
  });

  it('on a YugabyteDB server, discovers the cluster through yb_servers() and serves queries within its pool size', async () => {
    await disguiseAsYugabyte(db);
    let pool: Pool | undefined;
    try {
      pool = await openPool({ connectionString: db.url, max: 3, applicationName: 'tickwise-smart', smartDriver: { loadBalance: 'true', topologyKeys: 'local.test.zone-a:1', refreshIntervalSeconds: 0 } });
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => pool!.query<{ n: number }>('SELECT $1::int AS n', [i])));
      expect(results.map((result) => result.rows[0]!.n)).toEqual(Array.from({ length: 12 }, (_, i) => i));
      const { rows } = await db.pool.query<{ calls: number }>('SELECT count(*)::int AS calls FROM yb_servers_calls');
      expect(rows[0]!.calls).toBeGreaterThan(0);
      const { rows: connections } = await db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'tickwise-smart'`,
      );
      // Real connections of the smart pool, and no storm: its size plus the driver's one control
      // connection for yb_servers().
      expect(connections[0]!.n).toBeGreaterThan(0);
      expect(connections[0]!.n).toBeLessThanOrEqual(3 + 1);
    } finally {
      await pool?.end();
    }
  });
});
