import { describe, expect, it } from 'vitest';
import { parseTargetPolicy } from '@tickwise/scheduler';
import { addSigningSecret, rotateSigningSecret } from '@tickwise/catalog';
import { verifyWebhook } from '../../../docs/snippets/verify-webhook.ts';
import { applyJob, endpointId, startNode, useDatabaseAndTarget } from '../../../test/support/scheduler.ts';
import { waitFor } from '../../../test/support/wait.ts';

describe('a scheduler node signs its calls and applies the target policy', () => {
  const env = useDatabaseAndTarget();
  it('signs real calls made by a node; rotation shows both signatures within the refresh bound', async () => {
    await applyJob(env.db, 'wired', [{ name: 'hook', url: `${env.target.url}/wired`, method: 'POST', body: { a: 1 }, schedule: { every: '200ms' } }]);
    const id = await endpointId(env.db, 'wired', 'hook');
    const first = await addSigningSecret(env.db.pool, { endpointId: id });
    const { node } = startNode(env.db, { signingRefreshMs: 300 });
    const call = await waitFor('a call', () => env.target.calls.find((c) => c.path === '/wired'));
    expect(verifyWebhook(first.secret, call.headers, call.body)).toBe(call.headers['idempotency-key']);
    const second = await rotateSigningSecret(env.db.pool, { endpointId: id });
    const rolled = await waitFor('two signatures', () => env.target.calls.find((c) => String(c.headers['webhook-signature']).split(' ').length === 2));
    expect(verifyWebhook(first.secret, rolled.headers, rolled.body)).toBe(rolled.headers['webhook-id']);
    expect(verifyWebhook(second.secret, rolled.headers, rolled.body)).toBe(rolled.headers['webhook-id']);
    await node.stop();
  });
  it('refuses denied targets per the configured policy', async () => {
    const port = new URL(env.target.url).port;
    await applyJob(env.db, 'denied', [{ name: 'local', url: `http://localhost:${port}/denied`, schedule: { every: '1h' } }]);
    const id = await endpointId(env.db, 'denied', 'local');
    const { node } = startNode(env.db, { targetPolicy: parseTargetPolicy({ deny: '127.0.0.0/8, ::1' }) });
    const run = await waitFor('run', async () => (await env.db.pool.query('SELECT error_kind, error_message FROM runs WHERE endpoint_id = $1', [id])).rows[0]);
    await node.stop();
    expect(run.error_kind).toBe('target_denied');
    expect(run.error_message).toMatch(/^target denied: localhost resolved to/);
    expect(env.target.calls.some((c) => c.path === '/denied')).toBe(false);
  });
});
