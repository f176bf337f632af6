import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { figuresLimit } from '../commands/analytics.ts';
import { createTopic, deleteTopics, kafkaOrWarn, produceRaw, uniqueTopic } from '../../test/support/kafka.ts';
import { freePort } from '../../test/support/ports.ts';
import { waitFor } from '../../test/support/wait.ts';
import { outboxMessage, parseMetrics, runEvent, sampleValue } from '../../test/support/analytics.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const kafka = kafkaOrWarn('services/analytics/test/analytics-cli.test.ts (tickwise analytics as a process on a real broker)');

/** Starts the real `tickwise analytics`; resolves its exit code when it ends. */
function analytics(env: NodeJS.ProcessEnv) {
  const full: NodeJS.ProcessEnv = { ...process.env, TICKWISE_LOG_FORMAT: 'json', ...env };
  for (const name of ['DATABASE_URL', 'KAFKA_BROKERS', 'KAFKA_TOPIC', 'TICKWISE_OPS_PORT'] as const) if (!(name in env)) delete full[name];
  const child = spawn(process.execPath, ['bin/tickwise.mjs', 'analytics'], { cwd: REPO, env: full, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (chunk: Buffer) => (output.stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output.stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { child, output, exited };
}

describe('tickwise analytics: settings', () => {
  it.each([
    [{ TICKWISE_OPS_PORT: 'off' }, 'error: KAFKA_BROKERS is not set: "tickwise analytics" reads the run-event topic from Kafka'],
    [{ KAFKA_BROKERS: 'kafka', TICKWISE_OPS_PORT: 'off' }, 'error: KAFKA_BROKERS: "kafka" is not host:port'],
    [{ KAFKA_BROKERS: '127.0.0.1:9092', TICKWISE_ANALYTICS_WINDOW: 'soon', TICKWISE_OPS_PORT: 'off' }, 'error: TICKWISE_ANALYTICS_WINDOW must be a duration such as 15m or 1h, got "soon"'],
  ])('refuses %j with exit code 2 and a message naming the setting', async (env, message) => {
    const run = analytics(env);
    expect(await run.exited).toBe(2);
    expect(run.output.stderr).toContain(message);
  });

  it('exits 1 saying so when no broker answers', async () => {
    const run = analytics({ KAFKA_BROKERS: `127.0.0.1:${await freePort()}`, TICKWISE_OPS_PORT: String(await freePort()) });
    expect(await run.exited).toBe(1);
    expect(run.output.stderr).toContain('analytics consumer: could not consume tickwise.run-events from 127.0.0.1:');
  });

  it('reads ?limit= of /figures: 1 to 10000', () => {
    expect(figuresLimit(new URLSearchParams(''))).toBeUndefined();
    expect(figuresLimit(new URLSearchParams('limit=5'))).toBe(5);
    expect(() => figuresLimit(new URLSearchParams('limit=0'))).toThrow('limit must be a whole number from 1 to 10000, got "0"');
    expect(() => figuresLimit(new URLSearchParams('limit=ten'))).toThrow('limit must be a whole number from 1 to 10000, got "ten"');
  });
});

describe.skipIf(!kafka)('tickwise analytics on a real broker', () => {
  const brokers = kafka?.brokers ?? [];
  const topic = uniqueTopic('analytics-cli');
  const endpoint = randomUUID();
  const job = randomUUID();

  beforeAll(async () => {
    await createTopic(brokers, topic, 1);
  });
  afterAll(async () => {
    await deleteTopics(brokers, [topic]);
  });

  it('serves /healthz, /readyz, /metrics and /figures on the ops port, and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const run = analytics({ KAFKA_BROKERS: brokers.join(','), KAFKA_TOPIC: topic, TICKWISE_ANALYTICS_GROUP_ID: `tickwise-analytics-cli-${randomBytes(4).toString('hex')}`, TICKWISE_OPS_PORT: String(port), TICKWISE_OPS_HOST: '127.0.0.1' });
    try {
      const base = `http://127.0.0.1:${port}`;
      await waitFor(() => `/readyz to answer 200 (stderr: ${run.output.stderr})`, async () => (await fetch(`${base}/readyz`)).status === 200, 45_000);
      expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok' });
      await produceRaw(brokers, topic, [
        outboxMessage(runEvent(endpoint, job, 3_000, { duration_ms: 40 })),
        outboxMessage(runEvent(endpoint, job, 2_000, { duration_ms: 80, status: 'failed', http_status: 500, error_kind: 'http_status' })),
        { key: endpoint, value: '{"schema_version": 1, "type": "run.finished"}' },
      ]);
      const table = await waitFor('the two runs in /figures', async () => {
        const body = (await (await fetch(`${base}/figures?limit=10`)).json()) as { figures: { runs: number }[] };
        return body.figures[0]?.runs === 2 ? body : undefined;
      }, 30_000);
      expect(table).toMatchObject({ topic, windowMs: 900_000, endpoints: 1, messages: { counted: 2, skipped: { invalid_event: 1 } } });
      expect(table.figures[0]).toMatchObject({ endpointId: endpoint, jobId: job, runs: 2, failures: 1, failureRate: 0.5, durationMs: { p50: 40, p95: 80 } });

      const bad = await fetch(`${base}/figures?limit=0`);
      expect(bad.status).toBe(400);
      expect(await bad.json()).toEqual({ code: 'invalid_argument', message: 'limit must be a whole number from 1 to 10000, got "0"' });

      const samples = parseMetrics(await (await fetch(`${base}/metrics`)).text());
      expect(sampleValue(samples, 'tickwise_analytics_endpoint_failure_ratio', { endpoint_id: endpoint, job_id: job })).toBe(0.5);
      expect(sampleValue(samples, 'tickwise_analytics_skipped_messages_total', { code: 'invalid_event' })).toBe(1);
      // The process metrics every ops port serves.
      expect(samples.some((sample) => sample.name === 'process_cpu_user_seconds_total')).toBe(true);
    } finally {
      run.child.kill('SIGTERM');
    }
    expect(await run.exited).toBe(0);
    expect(run.output.stderr).toContain('"message":"stopping"');
  });
});
