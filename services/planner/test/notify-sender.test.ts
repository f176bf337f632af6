import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyJobs } from '@tickwise/catalog';
import { newId, type NewNotification } from '@tickwise/db';
import { endpointInputSchema } from '@tickwise/machines';
import { parseTargetPolicy } from '@tickwise/platform';
import { DeliveryWorker } from '../src/notify/delivery-worker.ts';
import { NotificationSender } from '../src/notify/sender.ts';
import { writeNotifications } from '../src/notify/tracker.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.ts';
import { startHttpTarget, type HttpTarget } from '../../../test/support/http-target.ts';
import { memoryLogger } from '../../../test/support/logger.ts';
import { fakeResolver, TEST_TARGET_POLICY } from '../../../test/support/targets.ts';
import { sleep, waitFor } from '../../../test/support/wait.ts';
import { testNotifySettings } from './support/notify.ts';

// The sender against a real receiver and database: two senders share the work and never send one
// delivery twice; the target policy is checked on the resolved address when sending; a receiver
// that keeps refusing is given up on after the attempts, with the last error recorded.

let db: TestDatabase;
let receiver: HttpTarget;
let refuse = false;
let endpoint: { endpointId: string; jobId: string; tenantId: string };

beforeAll(async () => {
  db = await createTestDatabase();
  receiver = await startHttpTarget((call, response) => {
    response.statusCode = refuse ? 503 : 200;
    response.end(refuse ? 'busy' : 'ok');
  });
  await applyJobs(db.pool, [{ name: 'senders', synthetic: false, endpoints: [endpointInputSchema.parse({ name: 'e', url: 'http://127.0.0.1:1/', schedule: { every: '1h' } })] }], { targetPolicy: TEST_TARGET_POLICY });
  const { rows } = await db.pool.query('SELECT id, job_id, tenant_id FROM endpoints');
  endpoint = { endpointId: rows[0].id, jobId: rows[0].job_id, tenantId: rows[0].tenant_id };
});

afterAll(async () => {
  await receiver?.close();
  await db?.drop();
});

function pausedNotification(url: string, targets = 1): NewNotification {
  const id = newId();
  return {
    ...endpoint,
    id,
    kind: 'paused',
    dedupKey: `paused:${newId()}`,
    streakKey: null,
    threshold: null,
    payload: { kind: 'paused', notification_id: id, summary: 'senders/e was paused by a person: test' },
    targets: Array.from({ length: targets }, (_, index) => ({ channel: 'webhook' as const, url: `${url}?n=${index}`, deliveryId: newId() })),
  };
}

function worker(owner: string, policy = TEST_TARGET_POLICY, settings = {}, resolve?: ReturnType<typeof fakeResolver>) {
  const full = testNotifySettings({ batch: 3, ...settings });
  const sender = new NotificationSender({ policy, timeoutMs: full.timeoutMs, resolve });
  const running = new DeliveryWorker({ pool: db.pool, owner, sender, settings: full, log: memoryLogger() });
  running.start();
  return { stop: async () => (await running.stop(), await sender.close()) };
}

async function statusOf(url: string) {
  return (await db.pool.query('SELECT status, attempts, last_error, last_http_status FROM notification_deliveries WHERE url LIKE $1 ORDER BY id', [`${url}%`])).rows;
}

describe('sending notifications', () => {
  it('two senders share 30 deliveries and send each exactly once', async () => {
    const url = `${receiver.url}/shared`;
    await writeNotifications(db.pool, Array.from({ length: 10 }, () => pausedNotification(url, 3)), memoryLogger());
    const [a, b] = [worker('sender-a'), worker('sender-b')];
    await waitFor('every delivery sent', async () => (await statusOf(url)).every((row) => row.status === 'sent'));
    await Promise.all([a.stop(), b.stop()]);
    const ids = receiver.calls.filter((call) => call.path.startsWith('/shared')).map((call) => call.headers['webhook-id'] ?? call.headers['idempotency-key']);
    expect(ids).toHaveLength(30);
    expect(new Set(ids).size).toBe(30);
    expect((await statusOf(url)).every((row) => row.attempts === 1)).toBe(true);
  });

  it('refuses a name that resolves to a private or denied address when connecting, and gives up at once', async () => {
    const port = new URL(receiver.url).port;
    // hooks.example.test resolves to the receiver's loopback address: sent only with the opt-in.
    const resolve = fakeResolver({ 'hooks.example.test': ['127.0.0.1'] });
    const cases = [
      ['private', parseTargetPolicy({}), 'target denied: hooks.example.test resolved to 127.0.0.1, which is a loopback address (private targets are refused; TICKWISE_ALLOW_PRIVATE_TARGETS=true allows them)'],
      ['listed', parseTargetPolicy({ deny: '127.0.0.0/8', allowPrivate: true }), 'target denied: hooks.example.test resolved to 127.0.0.1, which matches TICKWISE_DENY_TARGETS entry "127.0.0.0/8"'],
    ] as const;
    for (const [name, policy, error] of cases) {
      const url = `http://hooks.example.test:${port}/denied-${name}`;
      await writeNotifications(db.pool, [pausedNotification(url)], memoryLogger());
      const running = worker(`sender-c-${name}`, policy, {}, resolve);
      const [row] = await waitFor('the delivery failed', async () => ((await statusOf(url))[0]?.status === 'failed' ? statusOf(url) : null));
      await running.stop();
      expect(row).toMatchObject({ attempts: 1, last_http_status: null, last_error: error });
    }
    expect(receiver.calls.some((call) => call.path.startsWith('/denied'))).toBe(false);
    const allowed = `http://hooks.example.test:${port}/resolved-allowed`;
    await writeNotifications(db.pool, [pausedNotification(allowed)], memoryLogger());
    const running = worker('sender-c-allowed', TEST_TARGET_POLICY, {}, resolve);
    await waitFor('the delivery was sent through the fake resolver', async () => ((await statusOf(allowed))[0]?.status === 'sent' ? true : null));
    await running.stop();
  });

  it('a delivery left pending by a stopped sender is sent once by the next one, with the same webhook-id', async () => {
    refuse = true;
    const url = `${receiver.url}/handover`;
    await writeNotifications(db.pool, [pausedNotification(url)], memoryLogger());
    const first = worker('sender-f', TEST_TARGET_POLICY, { backoffMs: 300 });
    await waitFor('the first attempt refused', async () => (await statusOf(url))[0]?.attempts === 1 && (await statusOf(url))[0]?.last_http_status === 503);
    await first.stop();
    refuse = false;
    const second = worker('sender-g');
    await waitFor('the delivery sent', async () => (await statusOf(url))[0]?.status === 'sent');
    await sleep(500);
    await second.stop();
    const calls = receiver.calls.filter((call) => call.path.startsWith('/handover'));
    expect(calls).toHaveLength(2);
    expect(calls[1]!.headers['idempotency-key']).toBe(calls[0]!.headers['idempotency-key']);
    expect((await statusOf(url))[0]).toMatchObject({ status: 'sent', attempts: 2, last_http_status: 200, last_error: 'HTTP 503: busy' });
  });

  it('retries a refusing receiver with backoff, then records it failed with the last error', async () => {
    refuse = true;
    const url = `${receiver.url}/refusing`;
    await writeNotifications(db.pool, [pausedNotification(url)], memoryLogger());
    const running = worker('sender-d', TEST_TARGET_POLICY, { attempts: 3, backoffMs: 200, maxBackoffMs: 400 });
    const [row] = await waitFor('the delivery given up', async () => ((await statusOf(url))[0]?.status === 'failed' ? statusOf(url) : null));
    await running.stop();
    refuse = false;
    expect(row).toMatchObject({ attempts: 3, last_http_status: 503, last_error: 'HTTP 503: busy (gave up after 3 attempts)' });
    const times = receiver.calls.filter((call) => call.path.startsWith('/refusing')).map((call) => call.receivedAt);
    expect(times).toHaveLength(3);
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(190);
    expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(390);
    // Given up means given up: a new sender does not try again.
    const again = worker('sender-e');
    await sleep(600);
    await again.stop();
    expect(receiver.calls.filter((call) => call.path.startsWith('/refusing'))).toHaveLength(3);
  });
});
