import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import type { TestDatabase } from './database.ts';

const PG_DUMP = process.env.TICKWISE_PG_DUMP ?? '/usr/lib/postgresql/15/bin/pg_dump';
/** Whether `databaseText` includes a pg_dump (the system's PostgreSQL 15 client, or TICKWISE_PG_DUMP). */
export const PG_DUMP_AVAILABLE = existsSync(PG_DUMP);

/**
 * Everything the database holds, as text: every row of every table of the schema (each row's text
 * form: text and jsonb as written, bytea as hex), and the output of pg_dump when the system has one
 * of a version that can read the server. What a test looks through for a value that must not be stored.
 */
export async function databaseText(db: TestDatabase): Promise<string> {
  const { rows: tables } = await db.pool.query<{ name: string }>("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1");
  const parts: string[] = [];
  for (const { name } of tables) {
    const { rows } = await db.pool.query<{ text: string | null }>(`SELECT string_agg(t::text, E'\\n') AS text FROM "${name}" t`);
    parts.push(`-- ${name}\n${rows[0]?.text ?? ''}`);
  }
  if (PG_DUMP_AVAILABLE) {
    const dumped = await promisify(execFile)(PG_DUMP, ['--data-only', '--no-owner', db.url], { maxBuffer: 256 * 1024 * 1024 }).catch((error: Error) => ({ stdout: '', stderr: error.message }));
    parts.push(`-- pg_dump\n${dumped.stdout}`);
  }
  return parts.join('\n');
}

/** The spellings of a value a dump could hold it in: as is, hex (bytea) and base64. */
export function spellingsOf(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  return [value, bytes.toString('hex'), bytes.toString('base64').replace(/=+$/, '')];
}
