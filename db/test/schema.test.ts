import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectFlavour, dumpSchema, SCHEMA_FILE } from '@tickwise/db';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';

describe('db/schema.sql', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  it('is what the migrations add up to (regenerated from the migrated template)', async (context) => {
    // It is the PostgreSQL flavour; on YugabyteDB the only=yugabyte steps make other indexes.
    if ((await detectFlavour(db.pool)) !== 'postgres') context.skip();
    const actual = await dumpSchema(db.pool);
    const expected = readFileSync(SCHEMA_FILE, 'utf8');
    expect(actual, 'db/schema.sql is stale: run npm run db:schema').toBe(expected);
  });

  it('names every table, function and view the database has, apart from the runner\'s own tables', async () => {
    const text = readFileSync(SCHEMA_FILE, 'utf8');
    const { rows } = await db.pool.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v') AND c.relname NOT LIKE 'tickwise_migration%'
       UNION SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'`,
    );
    expect(rows.length).toBeGreaterThan(20);
    for (const { name } of rows) expect(text, name).toMatch(new RegExp(`^CREATE (TABLE|VIEW|OR REPLACE FUNCTION) public\\.${name}\\b`, 'm'));
    expect(text).not.toMatch(/^CREATE TABLE public\.tickwise_migration/m);
  });
});
