import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.ts';
import { freePort } from '../../../test/support/ports.ts';
import { TEST_TARGET_ENV } from '../../../test/support/targets.ts';
import { waitFor } from '../../../test/support/wait.ts';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

function start(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, ['bin/tickwise.mjs', ...args], { cwd: REPO, env: { ...process.env, TICKWISE_LOG_FORMAT: 'json', ...TEST_TARGET_ENV, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  child.stdout!.on('data', (chunk: Buffer) => (out.stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (out.stderr += chunk.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { child, out, exit };
}

async function run(args: string[], env: NodeJS.ProcessEnv) {
  const started = start(args, env);
  return { code: await started.exit, ...started.out };
}

describe('tickwise keys and tickwise gateway, as processes', () => {
  let db: TestDatabase;
  let gateway: ChildProcess | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    gateway?.kill('SIGKILL');
    await db.drop();
  });

  it('creates the first key of a tenant (printed once on stdout), lists and revokes keys', async () => {
    const env = { DATABASE_URL: db.url };
    const refused = await run(['keys', 'create', '--tenant', 'acme', '--role', 'admin', '--name', 'ops'], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('tenant "acme" does not exist; add --new-tenant to create it');
    const created = await run(['keys', 'create', '--tenant', 'acme', '--new-tenant', '--role', 'admin', '--name', 'ops'], env);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout.trim()).toMatch(/^tw_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(created.stderr).toContain('created admin key "ops"');
    const listed = await run(['keys', 'list', '--tenant', 'acme'], env);
    expect(listed.stdout).toContain('acme  admin  tw_');
    expect(listed.stdout).not.toContain(created.stdout.trim().slice(16));
    const id = listed.stdout.split(' ')[0]!;
    expect((await run(['keys', 'revoke', id], env)).stdout).toContain('revoked key "ops" (admin) of tenant "acme"');
    expect((await run(['keys', 'create', '--role', 'root', '--name', 'x'], env)).stderr).toContain('--role must be read, write or admin, got "root"');
    expect((await run(['keys', 'create', '--role', 'read'], env)).code).toBe(2);
  });

  it('serves the API with a key from "tickwise keys", and stops cleanly on SIGTERM', async () => {
    const key = (await run(['keys', 'create', '--role', 'write', '--name', 'deploy'], { DATABASE_URL: db.url })).stdout.trim();
    const port = await freePort();
    const started = start(['gateway'], { DATABASE_URL: db.url, TICKWISE_GATEWAY_PORT: String(port), TICKWISE_GATEWAY_HOST: '127.0.0.1' });
    gateway = started.child;
    await waitFor(() => `the gateway to listen: ${started.out.stderr}`, () => started.out.stderr.includes('gateway listening'));
    const response = await fetch(`http://127.0.0.1:${port}/tickwise.v1.JobService/CreateJob`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ name: 'from-cli', endpoints: [{ name: 'ping', url: 'http://127.0.0.1:1/ping', schedule: { every: '1h' } }] }),
    });
    expect(response.status).toBe(200);
    const { rows } = await db.pool.query("SELECT t.name FROM jobs j JOIN tenants t ON t.id = j.tenant_id WHERE j.name = 'from-cli'");
    expect(rows).toEqual([{ name: 'default' }]);
    started.child.kill('SIGTERM');
    expect(await started.exit).toBe(0);
    gateway = undefined;
  });

  it('refuses bad gateway settings with exit code 2 and the setting named', async () => {
    const result = await run(['gateway'], { DATABASE_URL: db.url, TICKWISE_GATEWAY_PORT: '99999' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('TICKWISE_GATEWAY_PORT must be a port number (1-65535), got "99999"');
    const heartbeat = await run(['gateway'], { DATABASE_URL: db.url, TICKWISE_WATCH_HEARTBEAT: 'often' });
    expect(heartbeat.stderr).toContain('TICKWISE_WATCH_HEARTBEAT must be a duration');
  });
});
