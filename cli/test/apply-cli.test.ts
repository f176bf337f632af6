import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { TEST_TARGET_ENV } from '../../test/support/targets.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI (`node bin/tickwise.mjs ...`) from the repository root; private targets allowed (the files' URLs are on 127.0.0.1) unless `extraEnv` says otherwise. */
function tickwise(args: string[], databaseUrl: string | undefined, extraEnv: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, TICKWISE_LOG_FORMAT: 'json', TICKWISE_LOG_LEVEL: 'warn', ...TEST_TARGET_ENV, ...extraEnv };
  delete env.DATABASE_URL;
  if (databaseUrl !== undefined) env.DATABASE_URL = databaseUrl;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/tickwise.mjs', ...args], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const VALID = `# jobs of the billing team
jobs:
  - name: billing
    endpoints:
      - name: invoices
        url: http://127.0.0.1:1/invoices
        schedule: { every: 30s }
      - name: reminders
        url: http://127.0.0.1:1/reminders
        method: POST
        body: { kind: reminder }
        schedule: { cron: "0 * * * *", timezone: Europe/Paris }
`;

// Line 15, column 18 holds the bad duration; every other part of the file is valid.
const INVALID = `# a new job and a change to an existing one
jobs:
  - name: reports
    endpoints:
      - name: daily
        url: http://127.0.0.1:1/daily
        schedule: { every: 1h }
  - name: billing
    endpoints:
      - name: invoices
        url: http://127.0.0.1:1/invoices
        schedule: { every: 1m }
      - name: reminders
        schedule:
          every: 5 minutes
        url: http://127.0.0.1:1/reminders
`;

describe('tickwise apply', () => {
  let dir: string;
  let db: TestDatabase;
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tickwise-apply-cli-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    db = await createTestDatabase();
  });
  afterEach(async () => {
    await db.drop();
  });

  async function dump() {
    const jobs = await db.pool.query('SELECT * FROM jobs ORDER BY name');
    const endpoints = await db.pool.query('SELECT * FROM endpoints ORDER BY name');
    const history = await db.pool.query('SELECT * FROM endpoint_transitions ORDER BY endpoint_id, seq');
    return { jobs: jobs.rows, endpoints: endpoints.rows, history: history.rows };
  }

  it('applies a valid file: exit 0, the created job and endpoints listed, rows in the database', async () => {
    const path = file('valid.yaml', VALID);
    const result = await tickwise(['apply', '-f', path], db.url);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout.trim().split('\n')).toEqual(['job billing: created', 'endpoint billing/invoices: created', 'endpoint billing/reminders: created']);

    const { rows } = await db.pool.query<{ job: string; name: string; state: string; next_run_at: Date | null; spec: { method: string; schedule: unknown } }>(
      'SELECT j.name AS job, e.name, e.state, e.next_run_at, e.spec FROM endpoints e JOIN jobs j ON j.id = e.job_id ORDER BY e.name',
    );
    expect(rows.map((row) => [row.job, row.name, row.state])).toEqual([
      ['billing', 'invoices', 'idle'],
      ['billing', 'reminders', 'idle'],
    ]);
    expect(rows.every((row) => row.next_run_at instanceof Date)).toBe(true);
    expect(rows[1]!.spec.method).toBe('POST');
    expect(rows[1]!.spec.schedule).toEqual({ kind: 'cron', cron: '0 * * * *', timezone: 'Europe/Paris' });

    // The same file again changes nothing and says so.
    const again = await tickwise(['apply', '--file', path], db.url);
    expect(again.code).toBe(0);
    expect(again.stdout.trim().split('\n')).toEqual(['endpoint billing/invoices: unchanged', 'endpoint billing/reminders: unchanged']);
  });

  it('rejects a file with an invalid duration with exit 2, its place and field, and changes nothing', async () => {
    expect((await tickwise(['apply', '-f', file('seed.yaml', VALID)], db.url)).code).toBe(0);
    const before = await dump();
    const path = file('invalid.yaml', INVALID);

    const result = await tickwise(['apply', '-f', path], db.url);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`${path}:15:18`);
    expect(result.stderr).toContain('jobs[1].endpoints[1].schedule.every');
    expect(result.stderr).toContain('invalid duration "5 minutes"');
    expect(result.stderr).toContain('nothing changed');

    expect(await dump()).toEqual(before);
    const { rows } = await db.pool.query("SELECT 1 FROM jobs WHERE name = 'reports'");
    expect(rows).toEqual([]);
  });

  it('refuses endpoint URLs the target policy denies, naming each, and changes nothing', async () => {
    const path = file('denied.yaml', VALID);
    const result = await tickwise(['apply', '-f', path], db.url, { TICKWISE_DENY_TARGETS: '127.0.0.0/8' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${path}: jobs[0].endpoints[0].url: target denied: host 127.0.0.1 matches TICKWISE_DENY_TARGETS entry "127.0.0.0/8"`);
    expect(result.stderr).toContain('jobs[0].endpoints[1].url: target denied');
    expect((await db.pool.query('SELECT 1 FROM jobs')).rows).toEqual([]);
    const badList = await tickwise(['apply', '-f', path], db.url, { TICKWISE_ALLOW_TARGETS: '10.0.0.1/8' });
    expect(badList.code).toBe(2);
    expect(badList.stderr).toContain('TICKWISE_ALLOW_TARGETS: entry "10.0.0.1/8" has bits set past its /8 prefix (did you mean 10.0.0.0/8?)');
  });

  it('validates with --dry-run without a database', async () => {
    const result = await tickwise(['apply', '-f', file('dry.yaml', VALID), '--dry-run'], undefined);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('valid (1 job(s), 2 endpoint(s))');
    expect(result.stdout).toContain('nothing applied (--dry-run)');

    const invalid = await tickwise(['apply', '-f', file('dry-invalid.yaml', INVALID), '--dry-run'], undefined);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain(':15:18');
  });

  it('asks for DATABASE_URL when it is missing and --dry-run is not given', async () => {
    const result = await tickwise(['apply', '-f', file('no-db.yaml', VALID)], undefined);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('DATABASE_URL');
    expect(result.stdout).toBe('');
  });

  it('exits with 2 for an unknown command, and for apply without a file', async () => {
    const unknown = await tickwise(['frobnicate'], db.url);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');

    const noFile = await tickwise(['apply'], db.url);
    expect(noFile.code).toBe(2);
    expect(noFile.stderr).toContain('needs -f');

    const missing = await tickwise(['apply', '-f', join(dir, 'does-not-exist.yaml')], db.url);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('ENOENT');
    expect(await dump()).toEqual({ jobs: [], endpoints: [], history: [] });
  });
});

describe('the YugabyteDB smart driver against PostgreSQL', () => {
  it('is refused before any pool exists, with the reason, so no connection storm can start', async () => {
    const db = await createTestDatabase();
    try {
      const result = await tickwise(['migrate'], db.url, { TICKWISE_YB_LOAD_BALANCE: 'true' });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('error (unavailable): TICKWISE_YB_LOAD_BALANCE is set, but the server at DATABASE_URL is not YugabyteDB');
      const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`);
      expect(rows[0].n).toBeLessThanOrEqual(1);
    } finally {
      await db.drop();
    }
  });
});
