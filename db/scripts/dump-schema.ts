// npm run db:schema: migrates a fresh database and writes what the migrations add up to into
// db/schema.sql (db/src/schema-dump.ts says what is in it). The database is a scratch one on the
// server of DATABASE_URL when set (created and dropped again), else an embedded PostgreSQL 15 in a
// temporary folder, as the tests use. Run it after adding a migration; db/test/schema.test.ts fails
// until then. With --check it writes nothing and exits 1 when the file is stale.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import pg from 'pg';
import { createPool, detectFlavour, dumpSchema, migrate, SCHEMA_FILE, startEmbeddedPostgres, type EmbeddedServer } from '@tickwise/db';
import { freePort } from '../../test/support/ports.ts';

const check = process.argv.includes('--check');
let server: EmbeddedServer | undefined;
let dataDir: string | undefined;
let adminUrl = process.env.DATABASE_URL;
const database = `tickwise_schema_${randomBytes(4).toString('hex')}`;
let text: string;
try {
  if (!adminUrl) {
    dataDir = mkdtempSync(join(tmpdir(), 'tickwise-schema-'));
    server = await startEmbeddedPostgres({ dataDir, port: await freePort() });
    adminUrl = server.urlFor('postgres');
  }
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${database}`);
    const url = new URL(adminUrl);
    url.pathname = `/${database}`;
    const pool = createPool({ connectionString: url.toString(), max: 2 });
    try {
      if ((await detectFlavour(pool)) !== 'postgres') throw new Error('db/schema.sql is the PostgreSQL flavour: point DATABASE_URL at PostgreSQL, or unset it to use the embedded one');
      await migrate(pool);
      text = await dumpSchema(pool);
    } finally {
      await pool.end();
      await admin.query(`DROP DATABASE IF EXISTS ${database}`);
    }
  } finally {
    await admin.end();
  }
} finally {
  await server?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}

const name = relative(process.cwd(), SCHEMA_FILE);
let current = '';
try {
  current = readFileSync(SCHEMA_FILE, 'utf8');
} catch {
  // not written yet
}
if (current === text) {
  console.log(`${name} is up to date (${text.split('\n').length} lines)`);
} else if (check) {
  console.error(`${name} is stale: run npm run db:schema`);
  process.exitCode = 1;
} else {
  writeFileSync(SCHEMA_FILE, text);
  console.log(`wrote ${name} (${text.split('\n').length} lines)`);
}
