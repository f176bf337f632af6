import type pg from 'pg';

/**
 * DROP DATABASE even while connections are open. `DROP DATABASE … WITH (FORCE)` exists only from
 * PostgreSQL 13 (not on 11, nor on YugabyteDB 2024.x), so end the other sessions first and try
 * again while a pool is still reconnecting (55006: "is being accessed by other users").
 */
export async function dropDatabase(client: pg.Client, name: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
    try {
      await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)}`);
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== '55006' || attempt >= 20) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
