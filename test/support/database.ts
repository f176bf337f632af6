import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { createPool, type Pool } from '@tickwise/db';
import { dropDatabase } from './drop-database.ts';

export interface TestDatabase {
  url: string;
  pool: Pool;
  /** Closes the pool and drops the database. */
  drop(): Promise<void>;
}

export function databaseUrl(database: string): string {
  const url = new URL(inject('adminUrl'));
  url.pathname = `/${database}`;
  return url.toString();
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: inject('adminUrl') });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A fresh, migrated database cloned from the template: one per test file (or per test). */
export function createTestDatabase(): Promise<TestDatabase> {
  return createDatabase(inject('templateDatabase'));
}

/** An empty database (not migrated), for migration tests. */
export function createEmptyDatabase(): Promise<TestDatabase> {
  return createDatabase(null);
}

async function createDatabase(template: string | null): Promise<TestDatabase> {
  const name = `${inject('databasePrefix')}${randomBytes(4).toString('hex')}`;
  await admin((client) => client.query(`CREATE DATABASE ${name}${template ? ` TEMPLATE ${template}` : ''}`));
  const url = databaseUrl(name);
  const pool = createPool({ connectionString: url, max: 10 });
  return {
    url,
    pool,
    async drop() {
      await pool.end();
      await admin((client) => dropDatabase(client, name));
    },
  };
}
