import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { addSigningSecret, rotateSigningSecret } from '@tickwise/catalog';
import { DEFAULT_TENANT_ID } from '@tickwise/db';
import { parseTargetPolicy } from '@tickwise/platform';
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
  it('signs every call of the tenant’s endpoints that have no secret of their own with the tenant’s secret (checked by standardwebhooks)', async () => {
    await applyJob(env.db, 'tenant-wide', [
      { name: 'plain', url: `${env.target.url}/tenant-plain`, method: 'POST', body: { b: 2 }, schedule: { every: '200ms' } },
      { name: 'own', url: `${env.target.url}/tenant-own`, method: 'POST', body: { c: 3 }, schedule: { every: '200ms' } },
    ]);
    const own = await addSigningSecret(env.db.pool, { endpointId: await endpointId(env.db, 'tenant-wide', 'own') });
    const tenant = await addSigningSecret(env.db.pool, { tenantId: DEFAULT_TENANT_ID });
    const { node } = startNode(env.db, { signingRefreshMs: 300 });
    const plain = await waitFor('a call of the endpoint without its own secret', () => env.target.calls.find((c) => c.path === '/tenant-plain'));
    const owned = await waitFor('a call of the endpoint with its own secret', () => env.target.calls.find((c) => c.path === '/tenant-own'));
    await node.stop();
    const verified = new Webhook(tenant.secret).verify(plain.body, plain.headers as Record<string, string>) as { b: number };
    expect(verified).toEqual({ b: 2 });
    expect(plain.headers['webhook-id']).toBe(plain.headers['idempotency-key']);
    // An endpoint's own secrets take precedence: its calls carry no tenant signature.
    expect(new Webhook(own.secret).verify(owned.body, owned.headers as Record<string, string>)).toEqual({ c: 3 });
    expect(() => new Webhook(tenant.secret).verify(owned.body, owned.headers as Record<string, string>)).toThrow();
  });

  it('refuses denied targets per the configured policy', async () => {
    const port = new URL(env.target.url).port;
    await applyJob(env.db, 'denied', [{ name: 'local', url: `http://localhost:${port}/denied`, schedule: { every: '1h' } }, { name: 'literal', url: `http://[::]:${port}/denied`, schedule: { every: '1h' } }]);
    const ids = [await endpointId(env.db, 'denied', 'local'), await endpointId(env.db, 'denied', 'literal')];
    // Private targets allowed: the deny list alone refuses this host, by name and as [::].
    const { node } = startNode(env.db, { targetPolicy: parseTargetPolicy({ deny: '127.0.0.0/8', allowPrivate: true }) });
    const runs = await waitFor('runs', async () => {
      const { rows } = await env.db.pool.query('SELECT endpoint_id, error_kind, error_message FROM runs WHERE endpoint_id = ANY($1)', [ids]);
      return rows.length === 2 ? new Map(rows.map((row) => [row.endpoint_id, row])) : null;
    });
    await node.stop();
    expect(runs.get(ids[0])).toMatchObject({ error_kind: 'target_denied', error_message: 'target denied: host localhost reaches this host (like 127.0.0.1, which matches TICKWISE_DENY_TARGETS entry "127.0.0.0/8")' });
    expect(runs.get(ids[1])).toMatchObject({ error_kind: 'target_denied', error_message: 'target denied: host :: reaches this host (like 127.0.0.1, which matches TICKWISE_DENY_TARGETS entry "127.0.0.0/8")' });
    expect(env.target.calls.some((c) => c.path === '/denied')).toBe(false);
  });
});
