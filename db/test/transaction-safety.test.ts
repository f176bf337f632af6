import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, inTransaction, isConnectionError, type Pool } from '@tickwise/db';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { sleep } from '../../test/support/wait.ts';

describe('a transaction left idle (its client cut off mid-transaction)', () => {
  let db: TestDatabase;
  let pool: Pool;
  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool({ connectionString: db.url, max: 2, queryTimeoutMs: 500 });
    await pool.query('CREATE TABLE held (id int PRIMARY KEY)');
    await pool.query('INSERT INTO held VALUES (1)');
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  it('is ended by the server after the query timeout, which frees its row locks', async () => {
    const failed = inTransaction(pool, async (client) => {
      await client.query('SELECT * FROM held WHERE id = 1 FOR UPDATE');
      await sleep(1_500); // as if the network between us had gone
      await client.query('SELECT 1');
    }).catch((error: Error) => error);
    await sleep(1_200);
    // A peer claiming with SKIP LOCKED sees the row again.
    const { rowCount } = await db.pool.query('SELECT 1 FROM held WHERE id = 1 FOR UPDATE SKIP LOCKED');
    expect(rowCount).toBe(1);
    const error = await failed;
    expect(isConnectionError(error), String(error)).toBe(true);
  });

  it('limits only that transaction: the connection is back to no limit after it', async () => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN; SET LOCAL idle_in_transaction_session_timeout = 500');
      await client.query('COMMIT');
      const { rows } = await client.query<{ idle_in_transaction_session_timeout: string }>('SHOW idle_in_transaction_session_timeout');
      expect(rows[0]!.idle_in_transaction_session_timeout).toBe('0');
    } finally {
      client.release();
    }
    await expect(inTransaction(pool, async (client) => (await client.query<{ n: number }>('SELECT 1 AS n')).rows[0]!.n)).resolves.toBe(1);
  });
});
