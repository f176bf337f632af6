/**
 * `npm run bench apply`: how long creating endpoints takes. `tickwise apply -f` of BENCH_APPLY_ENDPOINTS
 * endpoints (default 20,000, in jobs of 1,000) on the database path, the CLI a process of its own as
 * a person runs it (start-up included); and `ApplyJobs` of 1,000 endpoints through the gateway
 * (this process), each into a fresh tenant's empty catalog.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { JobService } from '@tickwise/api';
import { DEFAULT_TENANT_ID } from '@tickwise/db';
import { createApiKey, resolveGatewayConfig, startGateway } from '@tickwise/gateway';
import { benchDatabase } from './setup.ts';

const ENDPOINTS = Number(process.env.BENCH_APPLY_ENDPOINTS ?? 20_000);
const PER_JOB = 1_000;
const API_ENDPOINTS = 1_000;

const quiet = { debug() {}, info() {}, warn() {}, error: (message: string, fields?: object) => console.error(message, fields ?? '') };

function jobsFile(endpoints: number): string {
  const lines: string[] = ['jobs:'];
  for (let job = 0; job * PER_JOB < endpoints; job++) {
    lines.push(`  - name: bench-${job}`, '    endpoints:');
    for (let index = job * PER_JOB; index < Math.min(endpoints, (job + 1) * PER_JOB); index++) {
      lines.push(`      - name: e${index}`, `        url: https://example.com/hooks/${index}`, '        schedule: { every: 1h }');
    }
  }
  return `${lines.join('\n')}\n`;
}

function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/tickwise.mjs', ...args], { cwd: new URL('../../', import.meta.url).pathname, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stderr }));
  });
}

export async function applyBench() {
  const db = await benchDatabase('tickwise_bench_apply');
  const folder = mkdtempSync(join(tmpdir(), 'tickwise-bench-apply-'));
  try {
    const file = join(folder, 'jobs.yaml');
    writeFileSync(file, jobsFile(ENDPOINTS));
    const started = performance.now();
    const applied = await cli(['apply', '-f', file], { DATABASE_URL: db.url, TICKWISE_LOG_LEVEL: 'warn' });
    const cliSeconds = (performance.now() - started) / 1_000;
    if (applied.code !== 0) throw new Error(`tickwise apply exited ${applied.code}: ${applied.stderr}`);
    const { rows } = await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM endpoints WHERE state = 'idle'");
    if (rows[0]!.n !== ENDPOINTS) throw new Error(`expected ${ENDPOINTS} planned endpoints, found ${rows[0]!.n}`);

    const { key } = await createApiKey(db.pool, { tenantId: DEFAULT_TENANT_ID, role: 'admin', name: 'bench' });
    const gateway = await startGateway({ pool: db.pool, connectionString: db.url, config: resolveGatewayConfig({ host: '127.0.0.1', port: 0 }), log: quiet });
    try {
      const bearer: Interceptor = (next) => (request) => {
        request.header.set('authorization', `Bearer ${key}`);
        return next(request);
      };
      const jobs = createClient(JobService, createConnectTransport({ baseUrl: gateway.url, httpVersion: '1.1', interceptors: [bearer] }));
      const request = (round: number) => ({
        jobs: [{ name: `api-${round}`, endpoints: Array.from({ length: API_ENDPOINTS }, (_, index) => ({ name: `e${index}`, url: `https://example.com/api/${index}`, schedule: { kind: { case: 'every' as const, value: '1h' } } })) }],
      });
      await jobs.applyJobs(request(0));
      const samples: number[] = [];
      for (let round = 1; round <= 5; round++) {
        const at = performance.now();
        await jobs.applyJobs(request(round));
        samples.push(performance.now() - at);
      }
      samples.sort((a, b) => a - b);
      const figure = { cliEndpoints: ENDPOINTS, cliSeconds: Number(cliSeconds.toFixed(2)), apiEndpoints: API_ENDPOINTS, apiMs: { min: Math.round(samples[0]!), median: Math.round(samples[2]!), max: Math.round(samples[4]!) } };
      console.log(`apply: tickwise apply -f of ${ENDPOINTS.toLocaleString('en')} endpoints (database path, CLI start-up included) ${figure.cliSeconds} s; ApplyJobs of ${API_ENDPOINTS.toLocaleString('en')} endpoints ${figure.apiMs.min}/${figure.apiMs.median}/${figure.apiMs.max} ms (min/median/max of 5)`);
      return figure;
    } finally {
      await gateway.close();
    }
  } finally {
    rmSync(folder, { recursive: true, force: true });
    await db.close();
  }
}
