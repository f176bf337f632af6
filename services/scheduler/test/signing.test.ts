import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createPool } from '@tickwise/db';
import { addSigningSecret, listSigningSecrets, revokeSigningSecret, rotateSigningSecret, type SecretOwner } from '@tickwise/catalog';
import { TickwiseError } from '@tickwise/platform';
import { verifyWebhook, WebhookVerificationError } from '../../../docs/snippets/verify-webhook.ts';
import { freePort } from '../../../test/support/ports.ts';
import { applyJob, endpointId, startNode, useDatabaseAndTarget } from '../../../test/support/scheduler.ts';
import { memoryLogger } from '../../../test/support/logger.ts';
import { fakeResolver, TEST_TARGET_POLICY } from '../../../test/support/targets.ts';
import { waitFor } from '../../../test/support/wait.ts';
import { Dispatcher, type DispatchRequest } from '../src/dispatcher.ts';
import { SigningSecretCache } from '../src/signing.ts';
import { parseTargetPolicy } from '@tickwise/platform';

const REFRESH_MS = 10_000;
const never = new AbortController().signal;

/** A dispatcher signing from the test database, with a clock the test moves by hand. */
function signingDispatcher(env: ReturnType<typeof useDatabaseAndTarget>) {
  const clock = { now: Date.now() };
  const log = memoryLogger();
  const cache = new SigningSecretCache(env.db.pool, { refreshMs: REFRESH_MS, now: () => clock.now, log });
  const dispatcher = new Dispatcher({ secrets: cache, policy: TEST_TARGET_POLICY });
  let slot = Date.now();
  async function call(endpoint: string, tenantId: string | null | undefined, request: Partial<DispatchRequest> = {}) {
    const before = env.target.calls.length;
    const key = `${endpoint}:${++slot}`;
    const result = await dispatcher.call(
      {
        url: `${env.target.url}/hook`,
        method: 'POST',
        body: { since: 'last', note: 'é ✓' },
        timeoutMs: 5_000,
        headers: { 'x-team': 'billing', 'idempotency-key': key },
        sign: { endpointId: endpoint, tenantId, webhookId: key },
        ...request,
      },
      never,
    );
    return { result, key, received: env.target.calls.length > before ? env.target.calls.at(-1)! : undefined };
  }
  return { clock, log, cache, dispatcher, call };
}

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(WebhookVerificationError);
    return (error as Error).message;
  }
  throw new Error('expected the snippet to refuse');
}

const signatureCount = (headers: Record<string, unknown>) => String(headers['webhook-signature'] ?? '').split(' ').filter(Boolean).length;

describe('signed calls to a real HTTP target', () => {
  const env = useDatabaseAndTarget();

  it('signs the exact bytes sent; the documented snippet verifies the call and refuses a tampered body, a forged or old timestamp and a wrong secret', async () => {
    await applyJob(env.db, 'signed', [{ name: 'hook', url: `${env.target.url}/hook`, schedule: { every: '1h' } }]);
    const endpoint = await endpointId(env.db, 'signed', 'hook');
    const { secret } = await addSigningSecret(env.db.pool, { endpointId: endpoint });
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const { dispatcher, call } = signingDispatcher(env);
    const sentAt = Math.floor(Date.now() / 1000);
    const { result, key, received } = await call(endpoint, null);
    await dispatcher.close();

    expect(result).toMatchObject({ status: 'succeeded', httpStatus: 200, errorKind: null });
    const headers = received!.headers as Record<string, string>;
    expect(headers['webhook-id']).toBe(key);
    expect(Number(headers['webhook-timestamp'])).toBeGreaterThanOrEqual(sentAt);
    expect(signatureCount(headers)).toBe(1);
    expect(headers['x-team']).toBe('billing');
    const body = Buffer.from(received!.body);
    expect(verifyWebhook(secret, headers, body)).toBe(key);
    expect(verifyWebhook(secret, new Headers(headers), received!.body)).toBe(key);

    const timestamp = Number(headers['webhook-timestamp']);
    expect(refusal(() => verifyWebhook(secret, headers, Buffer.from(received!.body.replace('last', 'lost'))))).toBe('no signature matches');
    expect(refusal(() => verifyWebhook(secret, headers, JSON.stringify(JSON.parse(received!.body), null, 1)))).toBe('no signature matches');
    expect(refusal(() => verifyWebhook(secret, { ...headers, 'webhook-timestamp': String(timestamp - 1) }, body))).toBe('no signature matches');
    expect(refusal(() => verifyWebhook(secret, headers, body, { nowSeconds: timestamp + 301 }))).toBe('webhook-timestamp is outside the tolerance');
    const other = await addSigningSecret(env.db.pool, { tenantId: randomUUID() });
    expect(refusal(() => verifyWebhook(other.secret, headers, body))).toBe('no signature matches');
  });

  it('signs a call without a body over an empty body, and sends an endpoint without secrets unsigned', async () => {
    await applyJob(env.db, 'mixed', [
      { name: 'get', url: `${env.target.url}/hook`, schedule: { every: '1h' } },
      { name: 'plain', url: `${env.target.url}/hook`, schedule: { every: '1h' } },
    ]);
    const getId = await endpointId(env.db, 'mixed', 'get');
    const plainId = await endpointId(env.db, 'mixed', 'plain');
    const { secret } = await addSigningSecret(env.db.pool, { endpointId: getId });
    const { dispatcher, call } = signingDispatcher(env);
    const get = await call(getId, null, { method: 'GET', body: undefined });
    expect(get.received!.body).toBe('');
    expect(verifyWebhook(secret, get.received!.headers, get.received!.body)).toBe(get.key);
    // A spec header must not pass for a signature: unsigned calls keep the endpoint's own headers
    // as they are, signed calls replace them.
    const plain = await call(plainId, null, { headers: { 'x-team': 'billing', 'webhook-signature': 'v1,mine' } });
    expect(plain.received!.headers['webhook-id']).toBeUndefined();
    expect(plain.received!.headers['webhook-signature']).toBe('v1,mine');
    const spoofed = await call(getId, null, { headers: { 'Webhook-Signature': 'v1,forged', 'idempotency-key': 'x' } });
    expect(verifyWebhook(secret, spoofed.received!.headers, spoofed.received!.body)).toBe(spoofed.key);
    expect(signatureCount(spoofed.received!.headers)).toBe(1);
    await dispatcher.close();
  });

  it('during a rotation sends both signatures, each secret verifies; after the grace only the new one signs; changes apply within the refresh bound', async () => {
    await applyJob(env.db, 'rotating', [{ name: 'hook', url: `${env.target.url}/hook`, schedule: { every: '1h' } }]);
    const endpoint = await endpointId(env.db, 'rotating', 'hook');
    const first = await addSigningSecret(env.db.pool, { endpointId: endpoint });
    const { clock, dispatcher, call } = signingDispatcher(env);
    expect(signatureCount((await call(endpoint, null)).received!.headers)).toBe(1);

    const second = await rotateSigningSecret(env.db.pool, { endpointId: endpoint });
    expect(second.retired.map((row) => row.id)).toEqual([first.id]);
    const graceEnds = second.retired[0]!.expiresAt!.getTime();
    expect(graceEnds - second.createdAt.getTime()).toBeGreaterThan(24 * 3_600_000 - 60_000);
    // Within the refresh bound the node may still sign with the set it loaded...
    expect(signatureCount((await call(endpoint, null)).received!.headers)).toBe(1);
    // ...and past it, it signs with both: the new secret first.
    clock.now += REFRESH_MS;
    const rolling = await call(endpoint, null);
    const headers = rolling.received!.headers;
    expect(signatureCount(headers)).toBe(2);
    expect(verifyWebhook(first.secret, headers, rolling.received!.body)).toBe(rolling.key);
    expect(verifyWebhook(second.secret, headers, rolling.received!.body)).toBe(rolling.key);
    expect(verifyWebhook([first.secret, second.secret], headers, rolling.received!.body)).toBe(rolling.key);

    // The grace ends between two reloads: the old secret stops signing on time all the same.
    clock.now = graceEnds + 1;
    const after = await call(endpoint, null);
    expect(signatureCount(after.received!.headers)).toBe(1);
    expect(verifyWebhook(second.secret, after.received!.headers, after.received!.body)).toBe(after.key);
    expect(refusal(() => verifyWebhook(first.secret, after.received!.headers, after.received!.body))).toBe('no signature matches');

    // A grace of 0 retires at once; revoking the last secret turns signing off.
    const third = await rotateSigningSecret(env.db.pool, { endpointId: endpoint }, { graceMs: 0 });
    clock.now += REFRESH_MS;
    const now = await call(endpoint, null);
    expect(signatureCount(now.received!.headers)).toBe(1);
    expect(verifyWebhook(third.secret, now.received!.headers, now.received!.body)).toBe(now.key);
    await revokeSigningSecret(env.db.pool, third.id);
    clock.now += REFRESH_MS;
    expect((await call(endpoint, null)).received!.headers['webhook-signature']).toBeUndefined();
    const listed = await listSigningSecrets(env.db.pool, { endpointId: endpoint });
    expect(listed.map((row) => row.id)).toEqual([third.id, second.id, first.id]);
    expect(listed[0]!.revokedAt).toBeInstanceOf(Date);
    await dispatcher.close();
  });

  it("uses the tenant's secrets for an endpoint without its own, and the endpoint's own when it has some", async () => {
    await applyJob(env.db, 'tenanted', [{ name: 'hook', url: `${env.target.url}/hook`, schedule: { every: '1h' } }]);
    const endpoint = await endpointId(env.db, 'tenanted', 'hook');
    const tenantId = randomUUID();
    const tenant = await addSigningSecret(env.db.pool, { tenantId });
    const { clock, dispatcher, call } = signingDispatcher(env);
    const viaTenant = await call(endpoint, tenantId);
    expect(verifyWebhook(tenant.secret, viaTenant.received!.headers, viaTenant.received!.body)).toBe(viaTenant.key);
    // Until jobs carry a tenant the node passes none: then only the endpoint's own secrets count.
    expect((await call(endpoint, undefined)).received!.headers['webhook-signature']).toBeUndefined();

    const own = await addSigningSecret(env.db.pool, { endpointId: endpoint });
    clock.now += REFRESH_MS;
    const viaOwn = await call(endpoint, tenantId);
    expect(signatureCount(viaOwn.received!.headers)).toBe(1);
    expect(verifyWebhook(own.secret, viaOwn.received!.headers, viaOwn.received!.body)).toBe(viaOwn.key);
    expect(refusal(() => verifyWebhook(tenant.secret, viaOwn.received!.headers, viaOwn.received!.body))).toBe('no signature matches');
    await dispatcher.close();
  });

  it('refuses bad secret operations with their codes', async () => {
    await applyJob(env.db, 'ops', [{ name: 'hook', url: `${env.target.url}/hook`, schedule: { every: '1h' } }]);
    const endpoint = await endpointId(env.db, 'ops', 'hook');
    const failure = async (promise: Promise<unknown>) => {
      const error = await promise.then(() => undefined, (caught: unknown) => caught);
      expect(error).toBeInstanceOf(TickwiseError);
      return `${(error as TickwiseError).reason}: ${(error as Error).message}`;
    };
    const missing = randomUUID();
    expect(await failure(addSigningSecret(env.db.pool, { endpointId: missing }))).toBe(`endpoint_not_found: endpoint ${missing} does not exist`);
    expect(await failure(addSigningSecret(env.db.pool, { endpointId: endpoint, tenantId: missing } as unknown as SecretOwner))).toBe('invalid_owner: a signing secret belongs to exactly one of an endpoint (endpointId) or a tenant (tenantId)');
    expect(await failure(addSigningSecret(env.db.pool, {} as SecretOwner))).toBe('invalid_owner: a signing secret belongs to exactly one of an endpoint (endpointId) or a tenant (tenantId)');
    expect(await failure(addSigningSecret(env.db.pool, { tenantId: 'acme' }))).toBe('invalid_owner: tenantId must be a UUID, got "acme"');
    expect(await failure(addSigningSecret(env.db.pool, { endpointId: endpoint }, { bytes: 16 }))).toBe('invalid_option: bytes must be a whole number from 24 to 64, got 16');
    expect(await failure(rotateSigningSecret(env.db.pool, { endpointId: endpoint }, { graceMs: -1 }))).toBe('invalid_option: graceMs must be a whole number from 0 to 2592000000, got -1');
    expect(await failure(addSigningSecret(env.db.pool, { endpointId: endpoint }, { graceMs: 1_000 }))).toBe('invalid_option: graceMs applies to a rotation only (set rotate: true)');
    expect(await failure(revokeSigningSecret(env.db.pool, 'nope'))).toBe('invalid_id: signing secret id must be a UUID, got "nope"');
    expect(await failure(revokeSigningSecret(env.db.pool, missing))).toBe(`secret_not_found: signing secret ${missing} does not exist`);

    const made = [];
    for (let i = 0; i < 10; i++) made.push(await addSigningSecret(env.db.pool, { endpointId: endpoint }, { bytes: 24 + i * 4 }));
    expect(await failure(addSigningSecret(env.db.pool, { endpointId: endpoint }))).toBe(`too_many_secrets: endpoint ${endpoint} already has 10 usable signing secrets (at most 10); revoke one first`);
    const revoked = await revokeSigningSecret(env.db.pool, made[0]!.id);
    expect((await revokeSigningSecret(env.db.pool, made[0]!.id)).revokedAt).toEqual(revoked.revokedAt);
    await addSigningSecret(env.db.pool, { endpointId: endpoint }, { bytes: 64 });
    const { rows } = await env.db.pool.query('SELECT octet_length(secret) AS n FROM signing_secrets WHERE endpoint_id = $1 ORDER BY id', [endpoint]);
    expect(rows.map((row) => row.n)).toEqual([24, 28, 32, 36, 40, 44, 48, 52, 56, 60, 64]);
  });

  it('keeps signing with the last loaded set when a reload fails; a call with no set loadable is not sent (signing)', async () => {
    await applyJob(env.db, 'outage', [{ name: 'hook', url: `${env.target.url}/hook`, schedule: { every: '1h' } }]);
    const endpoint = await endpointId(env.db, 'outage', 'hook');
    const { secret } = await addSigningSecret(env.db.pool, { endpointId: endpoint });
    const pool = createPool({ connectionString: env.db.url, max: 1 });
    const clock = { now: Date.now() };
    const log = memoryLogger();
    const dispatcher = new Dispatcher({ secrets: new SigningSecretCache(pool, { refreshMs: REFRESH_MS, now: () => clock.now, log }), policy: TEST_TARGET_POLICY });
    const request = (key: string): DispatchRequest => ({ url: `${env.target.url}/hook`, method: 'POST', body: { n: 1 }, headers: {}, timeoutMs: 5_000, sign: { endpointId: endpoint, webhookId: key } });
    expect((await dispatcher.call(request('k:1'), never)).status).toBe('succeeded');
    await pool.end();
    clock.now += REFRESH_MS;
    const stale = await dispatcher.call(request('k:2'), never);
    expect(stale.status).toBe('succeeded');
    expect(verifyWebhook(secret, env.target.calls.at(-1)!.headers, env.target.calls.at(-1)!.body)).toBe('k:2');
    expect(log.lines.some((line) => line.startsWith('warn could not reload signing secrets; signing with the last loaded set'))).toBe(true);
    await dispatcher.close();

    const unreachable = createPool({ connectionString: `postgres://postgres@127.0.0.1:${await freePort()}/none`, max: 1 });
    const cold = new Dispatcher({ secrets: new SigningSecretCache(unreachable, { refreshMs: REFRESH_MS, log }), policy: TEST_TARGET_POLICY });
    const before = env.target.calls.length;
    const result = await cold.call(request('k:3'), never);
    expect(result).toMatchObject({ status: 'failed', errorKind: 'signing', httpStatus: null });
    expect(result.errorMessage).toMatch(/^not sent: the signing secrets could not be loaded: .*ECONNREFUSED/);
    expect(env.target.calls.length).toBe(before);
    await cold.close();
    await unreachable.end();
  });
});

describe('the target policy at dispatch', () => {
  const env = useDatabaseAndTarget();

  it('refuses a name that resolves to a denied address, and a denied IP literal, sending nothing; allows what the policy allows', async () => {
    const port = new URL(env.target.url).port;
    // hooks.example.test resolves to the target's address (private targets allowed: only the lists decide here).
    const policy = (lists: { allow?: string; deny?: string }) => ({ policy: parseTargetPolicy({ ...lists, allowPrivate: true }), resolve: fakeResolver({ 'hooks.example.test': ['127.0.0.1'] }) });
    const denying = new Dispatcher(policy({ deny: '127.0.0.0/8, ::1' }));
    const call = (dispatcher: Dispatcher, url: string) => dispatcher.call({ url, method: 'GET', headers: {}, timeoutMs: 5_000 }, never);

    const byName = await call(denying, `http://hooks.example.test:${port}/by-name`);
    expect(byName).toMatchObject({ status: 'failed', errorKind: 'target_denied', httpStatus: null });
    expect(byName.errorMessage).toBe('target denied: hooks.example.test resolved to 127.0.0.1, which matches TICKWISE_DENY_TARGETS entry "127.0.0.0/8"');
    const literal = await call(denying, `http://127.0.0.1:${port}/literal`);
    expect(literal).toMatchObject({ status: 'failed', errorKind: 'target_denied', errorMessage: 'target denied: host 127.0.0.1 matches TICKWISE_DENY_TARGETS entry "127.0.0.0/8"' });
    const notAllowed = new Dispatcher(policy({ allow: '*.example.com' }));
    expect(await call(notAllowed, `http://hooks.example.test:${port}/not-allowed`)).toMatchObject({ errorKind: 'target_denied', errorMessage: 'target denied: host hooks.example.test is not in TICKWISE_ALLOW_TARGETS' });
    // Allowed by address: the name passes the host check and its resolved address is in the allow list.
    const byAddress = new Dispatcher(policy({ allow: '127.0.0.0/8, ::1' }));
    expect(await call(byAddress, `http://hooks.example.test:${port}/allowed`)).toMatchObject({ status: 'succeeded', httpStatus: 200 });
    // Allowed by name, denied by address: deny wins.
    const both = new Dispatcher(policy({ allow: 'hooks.example.test', deny: '127.0.0.0/8, ::1' }));
    expect(await call(both, `http://hooks.example.test:${port}/both`)).toMatchObject({ errorKind: 'target_denied' });
    expect(env.target.calls.map((received) => received.path)).toEqual(['/allowed']);
    await Promise.all([denying, notAllowed, byAddress, both].map((dispatcher) => dispatcher.close()));
  });

  it('a scheduler node records a call to the cloud metadata address as a failed target_denied run and backs off', async () => {
    // The catalog refuses to write such a URL; a row from before that check (or written by hand) still
    // meets the check at dispatch.
    await applyJob(env.db, 'ssrf', [{ name: 'metadata', url: 'http://example.com/placeholder', schedule: { every: '1s' } }]);
    const id = await endpointId(env.db, 'ssrf', 'metadata');
    await env.db.pool.query(`UPDATE endpoints SET spec = jsonb_set(spec, '{url}', to_jsonb($2::text)) WHERE id = $1`, [id, 'http://169.254.169.254/latest/meta-data/iam/security-credentials/']);
    const { node } = startNode(env.db);
    const run = await waitFor('a recorded run', async () => {
      const { rows } = await env.db.pool.query('SELECT status, error_kind, error_message, http_status FROM runs WHERE endpoint_id = $1', [id]);
      return rows[0];
    });
    const { rows } = await env.db.pool.query('SELECT reason FROM endpoints WHERE id = $1', [id]);
    await node.stop();
    expect(run).toEqual({
      status: 'failed',
      error_kind: 'target_denied',
      http_status: null,
      error_message: 'target denied: host 169.254.169.254 matches the built-in deny "169.254.169.254" (cloud metadata)',
    });
    expect(rows[0].reason).toMatch(/^backoff after 1 consecutive failure/);
  });
});
