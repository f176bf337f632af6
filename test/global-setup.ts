import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { createPool, migrate, startEmbeddedPostgres, type EmbeddedServer } from '@tickwise/db';
import { dropDatabase } from './support/drop-database.ts';
import { freePort } from './support/ports.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A database the tests may CREATE DATABASE from. */
    adminUrl: string;
    /** Migrated once; every test file clones it. */
    templateDatabase: string;
    /** Prefix of every database the tests create, for the clean-up and the leak check. */
    databasePrefix: string;
  }
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** Whether a Docker engine answers on its socket (the client alone is not enough). */
function dockerAnswers(): Promise<boolean> {
  const socket = process.env.DOCKER_HOST?.startsWith('unix://') ? process.env.DOCKER_HOST.slice(7) : '/var/run/docker.sock';
  return new Promise((resolve) => {
    const request = httpRequest({ socketPath: socket, path: '/_ping', timeout: 1_000 }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    });
    request.on('error', () => resolve(false));
    request.on('timeout', () => request.destroy());
    request.end();
  });
}

/**
 * Integration tests run against a real PostgreSQL: DATABASE_URL when set (npm test sets it);
 * else a PostgreSQL 15 container when a Docker engine answers (testcontainers 11: 12 does not import
 * on Node 20); else the embedded PostgreSQL 15.
 */
export default async function setup(project: TestProject) {
  let stopServer = async () => {};
  let dataDir: string | undefined;
  let adminUrl = process.env.DATABASE_URL;
  if (adminUrl) {
    console.log('[tests] using the PostgreSQL at DATABASE_URL');
  } else if (await dockerAnswers()) {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const container = await new PostgreSqlContainer('postgres:15').start();
    adminUrl = container.getConnectionUri();
    stopServer = async () => void (await container.stop());
    console.log('[tests] DATABASE_URL is not set and a Docker engine answers: using a postgres:15 container');
  } else {
    dataDir = mkdtempSync(join(tmpdir(), 'tickwise-test-pg-'));
    const server: EmbeddedServer = await startEmbeddedPostgres({ dataDir, port: await freePort() });
    adminUrl = server.urlFor('postgres');
    stopServer = () => server.stop();
    console.log(`[tests] DATABASE_URL is not set and no Docker engine answers: using embedded PostgreSQL 15 on port ${server.port}`);
  }
  const prefix = `tickwise_test_${process.pid}_`;
  const template = `${prefix}template`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${template}`);
  const pool = createPool({ connectionString: withDatabase(adminUrl, template), max: 2 });
  await migrate(pool);
  await pool.end();
  project.provide('adminUrl', adminUrl);
  project.provide('templateDatabase', template);
  project.provide('databasePrefix', prefix);

  return async () => {
    // Leak check: a test that left a connection open to one of its databases is a bug.
    const { rows } = await admin.query<{ datname: string; application_name: string; count: string }>(
      `SELECT datname, application_name, count(*) FROM pg_stat_activity
        WHERE datname LIKE $1 AND pid <> pg_backend_pid() GROUP BY 1, 2`,
      [`${prefix}%`],
    );
    const { rows: databases } = await admin.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [`${prefix}%`]);
    for (const { datname } of databases) await dropDatabase(admin, datname);
    await admin.end();
    await stopServer();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    if (rows.length > 0) {
      throw new Error(`leak check: connections still open after the tests: ${rows.map((row) => `${row.datname}/${row.application_name || '?'} ×${row.count}`).join(', ')}`);
    }
  };
}
