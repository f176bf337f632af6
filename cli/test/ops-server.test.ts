import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '@tickwise/db';
import { databaseReachable, DEFAULT_OPS_PORT, opsSettingsFromEnv, serveOps, startOpsServer } from '../ops-server.ts';
import { TickwiseError } from '@tickwise/platform';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { startHttpTarget, type HttpTarget } from '../../test/support/http-target.ts';
import { freePort } from '../../test/support/ports.ts';
import { applyJob } from '../../test/support/scheduler.ts';
import { memoryLogger } from '../../test/support/logger.ts';
import { TEST_TARGET_ENV } from '../../test/support/targets.ts';
import { waitFor } from '../../test/support/wait.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** Starts the real `tickwise <command>`; resolves its exit code when it ends. */
function tickwise(command: 'scheduler' | 'planner', env: NodeJS.ProcessEnv) {
  const full: NodeJS.ProcessEnv = { ...process.env, TICKWISE_LOG_FORMAT: 'json', TICKWISE_OPS_HOST: '127.0.0.1', ...TEST_TARGET_ENV, ...env };
  for (const name of ['KAFKA_BROKERS', 'OPENAI_API_KEY'] as const) delete full[name];
  const child = spawn(process.execPath, ['bin/tickwise.mjs', command], { cwd: REPO, env: full, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (chunk: Buffer) => (output.stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output.stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { child, output, exited };
}

async function get(url: string): Promise<{ status: number; text: string; json: () => unknown }> {
  const response = await fetch(url);
  const text = await response.text();
  return { status: response.status, text, json: () => JSON.parse(text) };
}

function listening(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

const closeServer = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

describe('TICKWISE_OPS_PORT and TICKWISE_OPS_HOST', () => {
  it('default to 9090 on every address, "off" turns the endpoints off, 0 picks a free port', () => {
    expect(opsSettingsFromEnv({})).toEqual({ host: '0.0.0.0', port: DEFAULT_OPS_PORT, explicit: false });
    expect(opsSettingsFromEnv({ TICKWISE_OPS_PORT: '', TICKWISE_OPS_HOST: '' })).toEqual({ host: '0.0.0.0', port: 9090, explicit: false });
    expect(opsSettingsFromEnv({ TICKWISE_OPS_PORT: 'off' })).toBeNull();
    expect(opsSettingsFromEnv({ TICKWISE_OPS_PORT: '0', TICKWISE_OPS_HOST: '127.0.0.1' })).toEqual({ host: '127.0.0.1', port: 0, explicit: true });
    expect(opsSettingsFromEnv({ TICKWISE_OPS_PORT: '9100' })).toEqual({ host: '0.0.0.0', port: 9100, explicit: true });
  });

  it.each(['nope', '-1', '65536', '90.5', 'false'])('refuse TICKWISE_OPS_PORT=%s, naming the variable', (raw) => {
    expect(() => opsSettingsFromEnv({ TICKWISE_OPS_PORT: raw })).toThrow(new TickwiseError('invalid_config', `TICKWISE_OPS_PORT must be a port number (0-65535) or "off", got "${raw}"`));
  });
});

describe('the ops server', () => {
  it('answers /readyz with 503 and the reason when the database cannot be reached, 404 elsewhere', async () => {
    // A pool whose server is gone: nothing listens on its port.
    const gone = createPool({ connectionString: `postgres://postgres@127.0.0.1:${await freePort()}/tickwise`, max: 1 });
    const ops = await startOpsServer({ host: '127.0.0.1', port: 0, ready: () => databaseReachable(gone), log: memoryLogger() });
    try {
      expect((await get(`${ops.url}/healthz`)).json()).toEqual({ status: 'ok' });
      const ready = await get(`${ops.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(ready.json()).toEqual({ status: 'unavailable', reason: expect.stringMatching(/^database: .*ECONNREFUSED/) });
      const missing = await get(`${ops.url}/nope`);
      expect(missing.status).toBe(404);
      expect(missing.json()).toEqual({ code: 'not_found', message: 'no such path: /nope (/healthz, /readyz, /metrics)' });
      expect((await get(`${ops.url}/metrics`)).text).toContain('process_resident_memory_bytes');
    } finally {
      await ops.close();
      await gone.end();
    }
  });

  it('fails /readyz when the check does not answer in time', async () => {
    const ops = await startOpsServer({ host: '127.0.0.1', port: 0, ready: () => new Promise(() => undefined), log: memoryLogger(), readyTimeoutMs: 100 });
    try {
      const ready = await get(`${ops.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(ready.json()).toEqual({ status: 'unavailable', reason: 'no answer within 100ms' });
    } finally {
      await ops.close();
    }
  });

  it('closes even while a scraper holds a keep-alive connection', async () => {
    const ops = await startOpsServer({ host: '127.0.0.1', port: 0, ready: async () => undefined, log: memoryLogger() });
    expect((await get(`${ops.url}/readyz`)).json()).toEqual({ status: 'ready' });
    await ops.close();
    await expect(fetch(`${ops.url}/healthz`)).rejects.toThrow();
  });

  it('serves extra JSON routes with their query; an Error they throw is a 400 with its message', async () => {
    const routes = {
      '/figures': (query: URLSearchParams) => {
        if (query.get('limit') === 'lots') throw new Error('limit must be a whole number, got "lots"');
        return { rows: [], limit: Number(query.get('limit') ?? 100) };
      },
    };
    const ops = await startOpsServer({ host: '127.0.0.1', port: 0, ready: async () => undefined, log: memoryLogger(), routes });
    try {
      expect((await get(`${ops.url}/figures?limit=5`)).json()).toEqual({ rows: [], limit: 5 });
      const bad = await get(`${ops.url}/figures?limit=lots`);
      expect(bad.status).toBe(400);
      expect(bad.json()).toEqual({ code: 'invalid_argument', message: 'limit must be a whole number, got "lots"' });
      expect((await get(`${ops.url}/other`)).json()).toEqual({ code: 'not_found', message: 'no such path: /other (/healthz, /readyz, /metrics, /figures)' });
    } finally {
      await ops.close();
    }
  });

  it('refuses a taken port that TICKWISE_OPS_PORT named, and only warns when it is the default', async () => {
    const port = await freePort();
    const taken = await listening(port);
    try {
      const ready = async () => undefined;
      await expect(serveOps({ host: '127.0.0.1', port, explicit: true }, ready, memoryLogger())).rejects.toThrow(
        new TickwiseError('invalid_config', `cannot serve the ops endpoints on 127.0.0.1:${port} (EADDRINUSE); set TICKWISE_OPS_PORT to a free port (or "off") and TICKWISE_OPS_HOST to an address of this host`),
      );
      const log = memoryLogger();
      expect(await serveOps({ host: '127.0.0.1', port, explicit: false }, ready, log)).toBeNull();
      expect(log.lines.some((line) => line.startsWith(`warn the default ops port ${port} is taken`))).toBe(true);
      const off = memoryLogger();
      expect(await serveOps(null, ready, off)).toBeNull();
      expect(off.lines[0]).toContain('ops endpoints off');
    } finally {
      await closeServer(taken);
    }
  });
});

describe('the ops endpoints of tickwise scheduler and tickwise planner', () => {
  let db: TestDatabase;
  let target: HttpTarget;
  beforeAll(async () => {
    db = await createTestDatabase();
    target = await startHttpTarget();
    await applyJob(db, 'ops', [{ name: 'tick', url: `${target.url}/tick`, schedule: { every: '250ms' } }]);
  });
  afterAll(async () => {
    await target?.close();
    await db?.drop();
  });

  it('tickwise scheduler: healthz, readyz once the node runs, metrics with its runs; the port is let go on SIGTERM', async () => {
    const port = await freePort();
    const run = tickwise('scheduler', { DATABASE_URL: db.url, TICKWISE_OPS_PORT: String(port), TICKWISE_WORKER_ID: 'ops-node' });
    try {
      const base = `http://127.0.0.1:${port}`;
      const ready = await waitFor(() => `/readyz 200 (stderr: ${run.output.stderr})`, async () => {
        const answer = await get(`${base}/readyz`);
        return answer.status === 200 ? answer : null;
      }, 30_000);
      expect(ready.json()).toEqual({ status: 'ready' });
      expect(run.output.stderr).toContain('"message":"ops endpoints listening"');
      expect((await get(`${base}/healthz`)).json()).toEqual({ status: 'ok' });
      const metrics = await waitFor('runs in /metrics', async () => {
        const { text } = await get(`${base}/metrics`);
        return /tickwise_scheduler_runs_total\{worker="ops-node",outcome="succeeded",status_class="2xx",error_kind="none"\} [1-9]/.test(text) ? text : null;
      }, 20_000);
      expect(metrics).toContain('tickwise_scheduler_lateness_seconds_count{worker="ops-node"}');
      expect(metrics).toContain('process_cpu_user_seconds_total');
      run.child.kill('SIGTERM');
      expect(await run.exited).toBe(0);
      await expect(fetch(`${base}/healthz`)).rejects.toThrow();
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  it('tickwise planner: ready while its source runs, 503 naming the database once the database is gone', async () => {
    // A database of its own, dropped under the running planner.
    const doomed = await createTestDatabase();
    const port = await freePort();
    const run = tickwise('planner', { DATABASE_URL: doomed.url, TICKWISE_OPS_PORT: String(port), TICKWISE_PLANNER_ID: 'ops-planner' });
    try {
      const base = `http://127.0.0.1:${port}`;
      await waitFor(() => `/readyz 200 (stderr: ${run.output.stderr})`, async () => (await get(`${base}/readyz`)).status === 200, 30_000);
      // The lag is absent until the source has read once: wait for it rather than race it.
      const metrics = await waitFor('the consumer lag on /metrics', async () => {
        const text = (await get(`${base}/metrics`)).text;
        return /tickwise_planner_consumer_lag\{planner="ops-planner",source="database"\} \d+/.test(text) ? text : null;
      });
      expect(metrics).toContain('tickwise_planner_endpoints{planner="ops-planner"} 0');
      await doomed.drop();
      const down = await waitFor('/readyz 503', async () => {
        const answer = await get(`${base}/readyz`);
        return answer.status === 503 ? answer : null;
      }, 20_000);
      expect(down.json()).toEqual({ status: 'unavailable', reason: expect.stringMatching(/^database: /) });
      expect((await get(`${base}/healthz`)).status).toBe(200);
      run.child.kill('SIGTERM');
      expect(await run.exited).toBe(0);
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  it('a taken TICKWISE_OPS_PORT stops the command with exit code 2 and says which port', async () => {
    const port = await freePort();
    const taken = await listening(port);
    try {
      const run = tickwise('scheduler', { DATABASE_URL: db.url, TICKWISE_OPS_PORT: String(port) });
      expect(await run.exited).toBe(2);
      expect(run.output.stderr).toContain(`error: cannot serve the ops endpoints on 127.0.0.1:${port} (EADDRINUSE)`);
      // Nothing was claimed: the node never started.
      expect(run.output.stderr).not.toContain('scheduler node started');
    } finally {
      await closeServer(taken);
    }
  });

  it('a bad TICKWISE_OPS_PORT is refused with exit code 2 before anything starts', async () => {
    const run = tickwise('planner', { DATABASE_URL: db.url, TICKWISE_OPS_PORT: 'ninety' });
    expect(await run.exited).toBe(2);
    expect(run.output.stderr).toContain('error: TICKWISE_OPS_PORT must be a port number (0-65535) or "off", got "ninety"');
  });
});
