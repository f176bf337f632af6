import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import type { NotifyEndpoint } from '@tickwise/db';
import { TickwiseError } from '@tickwise/platform';
import { outcomeOf } from '../src/notify/delivery-worker.ts';
import { dedupKeyOf, notificationRow } from '../src/notify/notification-rows.ts';
import { slackPayload, webhookPayload } from '../src/notify/payloads.ts';
import { requestOf } from '../src/notify/sender.ts';
import { notifySettingsFromEnv, resolveNotifySettings, retryDelayMs } from '../src/notify/settings.ts';

const ENDPOINT: NotifyEndpoint = {
  id: '019ab8f0-0000-7000-8000-000000000001',
  name: 'poll',
  jobId: '019ab8f0-0000-7000-8000-000000000002',
  jobName: 'orders',
  tenantId: '019ab8f0-0000-7000-8000-000000000003',
  tenantName: 'acme',
  targets: [
    { channel: 'webhook', url: 'https://a.example.com/', after: 2 },
    { channel: 'slack', url: 'https://b.example.com/', after: 3 },
  ],
};
const NOW = new Date('2026-11-24T09:00:10.000Z');
const STREAK = { key: '019ab8f2-0000-7000-8000-000000000001', failures: 3, firstFailureAt: new Date('2026-11-24T09:00:00.000Z'), lastFailureAt: new Date('2026-11-24T09:00:09.000Z'), lastError: 'timeout' };

describe('payloads', () => {
  it('the webhook body names the endpoint, job, tenant, streak and link', () => {
    expect(webhookPayload('n-1', { kind: 'failing', streak: STREAK, threshold: 3 }, ENDPOINT, 'https://tw.example.com', NOW)).toEqual({
      type: 'endpoint.failing',
      kind: 'failing',
      notification_id: 'n-1',
      created_at: '2026-11-24T09:00:10.000Z',
      summary: 'orders/poll is failing: 3 failed slots in a row (last error: timeout)',
      tenant: { id: ENDPOINT.tenantId, name: 'acme' },
      job: { id: ENDPOINT.jobId, name: 'orders' },
      endpoint: { id: ENDPOINT.id, name: 'poll' },
      streak: { id: STREAK.key, failures: 3, first_failure_at: '2026-11-24T09:00:00.000Z', last_failure_at: '2026-11-24T09:00:09.000Z', last_error: 'timeout' },
      recovered: null,
      pause: null,
      link: `https://tw.example.com/ui/#/endpoint/${ENDPOINT.id}`,
    });
  });

  it('a recovery and a pause say what ended and who paused, without a link when no public URL is set', () => {
    const recovered = webhookPayload('n-2', { kind: 'recovered', streakKey: STREAK.key, streak: null, runId: 'r-9', at: NOW }, ENDPOINT, null, NOW);
    expect(recovered).toMatchObject({ summary: 'orders/poll recovered', streak: { id: STREAK.key, failures: null }, recovered: { run_id: 'r-9', at: NOW.toISOString() }, link: null });
    const paused = webhookPayload('n-3', { kind: 'paused', pause: { by: 'hint', reason: 'Retry-After 1h', until: '2026-11-24T10:00:00.000Z' }, noticeId: 'x', at: NOW }, ENDPOINT, null, NOW);
    expect(paused).toMatchObject({ summary: 'orders/poll was paused by a hint until 2026-11-24T10:00:00.000Z: Retry-After 1h', streak: null, pause: { by: 'hint' } });
  });

  it('Slack gets text and blocks, escaped, with the link in Slack’s form', () => {
    const payload = webhookPayload('n-4', { kind: 'paused', pause: { by: 'person', reason: 'a <b> & c', until: null }, noticeId: 'x', at: NOW }, ENDPOINT, 'https://tw.example.com', NOW);
    const message = slackPayload(payload);
    expect(message.text).toBe(`:double_vertical_bar: orders/poll was paused by a person: a &lt;b&gt; &amp; c <https://tw.example.com/ui/#/endpoint/${ENDPOINT.id}|open in Tickwise>`);
    expect(message.blocks).toHaveLength(2);
  });
});

describe('notification rows', () => {
  let next = 0;
  const ids = () => `019ab8f3-0000-7000-8000-${String(++next).padStart(12, '0')}`;

  it('a failure goes to the targets whose after it reached, keyed by streak and threshold', () => {
    const row = notificationRow({ kind: 'failing', streak: STREAK, threshold: 3 }, ENDPOINT, null, ids, NOW)!;
    expect(row).toMatchObject({ kind: 'failing', dedupKey: `failing:${STREAK.key}:3`, streakKey: STREAK.key, threshold: 3 });
    expect(row.targets).toEqual([{ channel: 'slack', url: 'https://b.example.com/', deliveryId: expect.any(String) }]);
    expect(notificationRow({ kind: 'failing', streak: STREAK, threshold: 5 }, ENDPOINT, null, ids, NOW)).toBeNull();
  });

  it('a pause goes to every target, a recovery to whoever heard of the failure, and is written even with no target', () => {
    expect(notificationRow({ kind: 'paused', pause: { by: 'breaker', reason: 'r', until: null }, noticeId: 'notice-1', at: NOW }, ENDPOINT, null, ids, NOW)!.targets).toHaveLength(2);
    expect(notificationRow({ kind: 'paused', pause: { by: 'breaker', reason: 'r', until: null }, noticeId: 'notice-1', at: NOW }, { ...ENDPOINT, targets: [] }, null, ids, NOW)).toBeNull();
    const recovered = notificationRow({ kind: 'recovered', streakKey: STREAK.key, streak: null, runId: 'r', at: NOW }, { ...ENDPOINT, targets: [] }, null, ids, NOW)!;
    expect(recovered.targets).toMatchObject({ told: STREAK.key });
    expect(dedupKeyOf({ kind: 'recovered', streakKey: STREAK.key, streak: null, runId: 'r', at: NOW })).toBe(`recovered:${STREAK.key}`);
  });
});

describe('an attempt', () => {
  const delivery = { id: '019ab8f4-0000-7000-8000-000000000001', notificationId: 'n', channel: 'webhook' as const, payload: { kind: 'failing', summary: 's' } };

  it('is signed for Standard Webhooks with the delivery id, verifiable by the official library', () => {
    const key = Buffer.alloc(32, 7);
    const { body, headers } = requestOf(delivery, [key], Math.floor(Date.now() / 1000));
    expect(headers['webhook-id']).toBe(delivery.id);
    expect(headers['idempotency-key']).toBe(delivery.id);
    expect(new Webhook(`whsec_${key.toString('base64')}`).verify(body, headers)).toEqual(delivery.payload);
  });

  it('is unsigned without secrets, and to Slack always', () => {
    expect(requestOf(delivery, [], 0).headers['webhook-signature']).toBeUndefined();
    expect(requestOf({ ...delivery, channel: 'slack', payload: webhookPayload('n', { kind: 'failing', streak: STREAK, threshold: 3 }, ENDPOINT, null, NOW) as never }, [Buffer.alloc(32)], 0).headers['webhook-signature']).toBeUndefined();
  });

  const settings = resolveNotifySettings({ attempts: 3, backoffMs: 1_000, maxBackoffMs: 5_000 });

  it('is retried with a doubling backoff, capped, then given up; a policy refusal is given up at once', () => {
    const failed = { ok: false as const, permanent: false, httpStatus: 500, error: 'HTTP 500', retryAfterMs: null };
    expect(outcomeOf(failed, 1, settings, 0, () => 0)).toEqual({ status: 'pending', httpStatus: 500, error: 'HTTP 500', retryAt: new Date(1_000) });
    expect(outcomeOf(failed, 2, settings, 0, () => 0)).toMatchObject({ status: 'pending', retryAt: new Date(2_000) });
    expect(outcomeOf(failed, 3, settings, 0, () => 0)).toEqual({ status: 'failed', httpStatus: 500, error: 'HTTP 500 (gave up after 3 attempts)' });
    expect(outcomeOf({ ...failed, permanent: true, httpStatus: null, error: 'target denied: …' }, 1, settings, 0, () => 0)).toEqual({ status: 'failed', httpStatus: null, error: 'target denied: …' });
    expect(outcomeOf({ ok: true, httpStatus: 204 }, 1, settings, 0, () => 0)).toEqual({ status: 'sent', httpStatus: 204 });
  });

  it('waits at least a Retry-After, up to the cap, and jitters up to 10%', () => {
    expect(retryDelayMs(1, settings, 3_000, () => 0)).toBe(3_000);
    expect(retryDelayMs(1, settings, 60_000, () => 0)).toBe(5_000);
    expect(retryDelayMs(10, settings, null, () => 0.99)).toBe(5_000);
    expect(retryDelayMs(1, settings, null, () => 0.5)).toBe(1_050);
  });
});

describe('notification settings', () => {
  it('reads the variables, naming the one that is wrong', () => {
    expect(notifySettingsFromEnv({ TICKWISE_PUBLIC_URL: 'https://tw.example.com/', TICKWISE_NOTIFY_ATTEMPTS: '5', TICKWISE_NOTIFY_BACKOFF: '2s' })).toMatchObject({ publicUrl: 'https://tw.example.com', attempts: 5, backoffMs: 2_000 });
    const wrong = (env: NodeJS.ProcessEnv) => {
      try {
        notifySettingsFromEnv(env);
      } catch (error) {
        expect(error).toBeInstanceOf(TickwiseError);
        expect(error).toMatchObject({ code: 'invalid_config' });
        return (error as Error).message;
      }
      throw new Error('expected an error');
    };
    expect(wrong({ TICKWISE_NOTIFY_ATTEMPTS: '0' })).toBe('TICKWISE_NOTIFY_ATTEMPTS: attempts must be an integer between 1 and 100, got 0');
    expect(wrong({ TICKWISE_NOTIFY_BACKOFF: 'soon' })).toBe('TICKWISE_NOTIFY_BACKOFF must be a duration such as 500ms, 10s or 10m, got "soon"');
    expect(wrong({ TICKWISE_PUBLIC_URL: 'tickwise.example.com' })).toContain('TICKWISE_PUBLIC_URL must be the http(s) address people open Tickwise at');
  });
});
