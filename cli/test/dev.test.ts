import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../test/support/database.ts';
import { freePort } from '../../test/support/ports.ts';
import { waitFor } from '../../test/support/wait.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

describe('tickwise dev (what npm start runs)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tickwise-dev-'));
  // As root the embedded server runs as "postgres", which must reach the folder (mkdtemp makes it 0700).
  chmodSync(dataDir, 0o755);
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('starts embedded PostgreSQL, the demo job, a node, the planner and the gateway with a fresh key; runs and analyses appear at once; Ctrl-C stops it all', async () => {
    const [pgPort, syntheticPort, gatewayPort] = [await freePort(), await freePort(), await freePort()];
    const env: NodeJS.ProcessEnv = { ...process.env, TICKWISE_DATA_DIR: dataDir, TICKWISE_EMBEDDED_PG_PORT: String(pgPort), TICKWISE_SYNTHETIC_PORT: String(syntheticPort), TICKWISE_GATEWAY_PORT: String(gatewayPort), TICKWISE_LOG_FORMAT: 'json' };
    delete env.TICKWISE_GATEWAY_HOST;
    delete env.DATABASE_URL;
    // Without the private opt-in: dev lets exactly its synthetic server through.
    delete env.TICKWISE_ALLOW_PRIVATE_TARGETS;
    // The one-command start needs no Kafka and no model, whatever the machine running the tests has.
    delete env.KAFKA_BROKERS;
    delete env.OPENAI_API_KEY;
    const child = spawn(process.execPath, ['bin/tickwise.mjs', 'dev'], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const url = await waitFor(() => `the DATABASE_URL line (stdout: ${stdout}; stderr: ${stderr})`, () => /DATABASE_URL=(\S+)/.exec(stdout)?.[1], 30_000);
      expect(stdout).toContain(`PostgreSQL 15 (embedded) on 127.0.0.1:${pgPort}, data in ${join(dataDir, 'pg')}`);
      expect(stdout).toContain(`synthetic endpoints at http://127.0.0.1:${syntheticPort}/synthetic/`);
      expect(stdout).toMatch(/demo job "demo" \(synthetic: true\): health, echo, flaky, slow/);
      expect(stdout).toContain(`target policy: allow any target; refuse private addresses except 127.0.0.1:${syntheticPort}; deny cloud metadata (TICKWISE_ALLOW_PRIVATE_TARGETS=true to call your own local targets)`);
      // The banner's line pastes into a shell: the gateway (on loopback) answers with its key.
      const [, apiUrl, apiKey] = /^TICKWISE_URL=(\S+) TICKWISE_API_KEY=(\S+)$/m.exec(stdout) ?? [];
      expect(apiUrl).toBe(`http://127.0.0.1:${gatewayPort}`);
      expect(stdout).toContain(`gateway at http://127.0.0.1:${gatewayPort}`);
      const listed = await fetch(`${apiUrl}/tickwise.v1.JobService/ListJobs`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: '{}' });
      expect(listed.status).toBe(200);
      expect(((await listed.json()) as { jobs: { name: string }[] }).jobs.map((job) => job.name)).toContain('demo');
      // The key for secrets is made in the data folder, readable by this user only, and in use.
      expect(stdout).toContain(`secrets key made in ${join(dataDir, 'secrets.key')} (mode 0600`);
      expect(statSync(join(dataDir, 'secrets.key')).mode & 0o777).toBe(0o600);
      const set = await fetch(`${apiUrl}/tickwise.v1.SecretService/SetSecret`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: '{"name":"DEV","value":"dev-value"}' });
      expect(set.status).toBe(200);
      const refused = await fetch(`${apiUrl}/tickwise.v1.JobService/ListJobs`, { method: 'POST', headers: { authorization: 'Bearer tw_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'content-type': 'application/json' }, body: '{}' });
      expect(refused.status).toBe(401);
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const runs = await waitFor('runs of the demo endpoints', async () => {
          const { rows } = await client.query<{ name: string; status: string }>('SELECT e.name, r.status FROM runs r JOIN endpoints e ON e.id = r.endpoint_id JOIN jobs j ON j.id = e.job_id WHERE j.synthetic');
          return new Set(rows.map((row) => row.name)).size >= 3 ? rows : null;
        }, 20_000);
        expect(runs.some((run) => run.name === 'health' && run.status === 'succeeded')).toBe(true);
        expect(stdout).toContain('planner: events from the database outbox, heuristic analyzer');
        const analysed = await waitFor('analyses of the demo endpoints', async () => {
          const { rows } = await client.query<{ planner: string; trigger: string }>('SELECT planner, trigger FROM analyses');
          return rows.length > 0 ? rows : null;
        }, 20_000);
        expect(analysed.every((analysis) => analysis.planner === 'heuristic')).toBe(true);
        // One process, one registry: the gateway's /metrics shows the node's and the planner's work too.
        const metrics = await waitFor('scheduler and planner metrics', async () => {
          const text = await (await fetch(`http://127.0.0.1:${gatewayPort}/metrics`)).text();
          return /tickwise_scheduler_runs_total\{worker="[^"]+",outcome="succeeded",status_class="2xx",error_kind="none"\} [1-9]/.test(text) &&
            /tickwise_planner_analyses_total\{planner="[^"]+",analyzer="heuristic",outcome="\w+"\} [1-9]/.test(text) ? text : null;
        }, 20_000);
        expect(metrics).toContain('tickwise_gateway_requests_total{procedure="tickwise.v1.JobService/ListJobs",code="ok"} 1');
        expect(metrics).toContain('tickwise_gateway_requests_total{procedure="tickwise.v1.JobService/ListJobs",code="unauthenticated"} 1');
        expect(metrics).toMatch(/tickwise_scheduler_lateness_seconds_count\{worker="[^"]+"\} [1-9]/);
        expect(metrics).toMatch(/tickwise_planner_consumer_lag\{planner="[^"]+",source="database"\} \d+/);
      } finally {
        await client.end();
      }
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(stdout).toContain('stopped.');
      expect(await portOpen(pgPort)).toBe(false);
      expect(await portOpen(syntheticPort)).toBe(false);
      expect(await portOpen(gatewayPort)).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('stops with exit code 2 and names the setting when the gateway port is taken', async () => {
    const db = await createTestDatabase();
    const gatewayPort = await freePort();
    const taken = createServer().listen(gatewayPort, '127.0.0.1');
    await once(taken, 'listening');
    try {
      // With DATABASE_URL there is no embedded server to wait for.
      const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: db.url, TICKWISE_SYNTHETIC_PORT: String(await freePort()), TICKWISE_GATEWAY_PORT: String(gatewayPort), TICKWISE_LOG_FORMAT: 'json' };
      delete env.TICKWISE_GATEWAY_HOST;
      const child = spawn(process.execPath, ['bin/tickwise.mjs', 'dev'], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code).toBe(2);
      expect(stderr).toContain(`error: cannot listen on 127.0.0.1:${gatewayPort} (EADDRINUSE); set TICKWISE_GATEWAY_PORT or TICKWISE_GATEWAY_HOST`);
    } finally {
      taken.close();
      await db.drop();
    }
  });

  it('says plainly when the embedded server cannot reach its data folder', async () => {
    if (process.getuid?.() !== 0) {
      console.log('[dev.test] not root: the postgres-user data folder check only applies to root; checked on CI, which runs as root');
      return;
    }
    const closed = join(dataDir, 'closed');
    mkdirSync(join(closed, 'inside'), { recursive: true });
    chmodSync(closed, 0o700);
    const env: NodeJS.ProcessEnv = { ...process.env, TICKWISE_DATA_DIR: join(closed, 'inside'), TICKWISE_EMBEDDED_PG_PORT: String(await freePort()), TICKWISE_LOG_FORMAT: 'json' };
    delete env.DATABASE_URL;
    const child = spawn(process.execPath, ['bin/tickwise.mjs', 'dev'], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(2);
    expect(stderr).toContain('cannot reach');
    expect(stderr).toContain('TICKWISE_DATA_DIR');
  });
});
