import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { waitFor } from '../../test/support/wait.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** Starts the real `tickwise planner`; resolves its exit code and output when it ends. */
function planner(env: NodeJS.ProcessEnv) {
  const full: NodeJS.ProcessEnv = { ...process.env, TICKWISE_LOG_FORMAT: 'json', ...env };
  for (const name of ['DATABASE_URL', 'KAFKA_BROKERS', 'OPENAI_API_KEY'] as const) if (!(name in env)) delete full[name];
  const child = spawn(process.execPath, ['bin/tickwise.mjs', 'planner'], { cwd: REPO, env: full, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (chunk: Buffer) => (output.stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output.stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { child, output, exited };
}

describe('tickwise planner', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('runs on the database path with the heuristic analyzer, holds the cursor, and stops cleanly on SIGTERM', async () => {
    const run = planner({ DATABASE_URL: db.url, TICKWISE_PLANNER_ID: 'cli-planner' });
    await waitFor(() => `the start line (stderr: ${run.output.stderr})`, () => run.output.stderr.includes('planner started'), 20_000);
    expect(run.output.stderr).toContain('events from the database outbox, heuristic analyzer');
    const cursor = await waitFor('the cursor lease', async () => (await db.pool.query("SELECT lease_owner FROM planner_cursors WHERE name = 'planner'")).rows[0]?.lease_owner);
    expect(cursor).toBe('cli-planner');
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    // The lease is handed back, so another planner takes over at once.
    expect((await db.pool.query("SELECT lease_owner FROM planner_cursors WHERE name = 'planner'")).rows[0].lease_owner).toBeNull();
  });

  it.each([
    [{ TICKWISE_PLANNER_MIN_INTERVAL: 'soon' }, 'TICKWISE_PLANNER_MIN_INTERVAL must be a duration'],
    [{ TICKWISE_PLANNER_ANALYZER: 'llm' }, 'OPENAI_API_KEY'],
    [{ KAFKA_BROKERS: 'not a broker' }, 'KAFKA_BROKERS'],
  ])('refuses %j with exit code 2 and a message naming the setting', async (env, message) => {
    const run = planner({ DATABASE_URL: db.url, ...env });
    expect(await run.exited).toBe(2);
    expect(run.output.stderr).toContain(message);
  });

  it('refuses to start without DATABASE_URL', async () => {
    const run = planner({});
    expect(await run.exited).toBe(2);
    expect(run.output.stderr).toContain('DATABASE_URL is not set');
  });
});
