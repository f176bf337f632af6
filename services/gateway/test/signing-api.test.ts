import { Code, ConnectError } from '@connectrpc/connect';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EndpointService, JobService, SignedBy, SigningService } from '@tickwise/api';
import { internalErrors, spec, useGateway } from '../../../test/support/gateway.ts';
import { startHttpTarget, type HttpTarget, type ReceivedCall } from '../../../test/support/http-target.ts';
import { startNode } from '../../../test/support/scheduler.ts';
import { waitFor } from '../../../test/support/wait.ts';

async function failure(call: () => Promise<unknown>): Promise<ConnectError> {
  try {
    await call();
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error('expected the call to fail');
}

const signatures = (call: ReceivedCall) => String(call.headers['webhook-signature'] ?? '').split(' ').filter(Boolean).length;
/** What the official Standard Webhooks library makes of a call received with `secret`. */
const verified = (secret: string, call: ReceivedCall) => new Webhook(secret).verify(call.body, call.headers as Record<string, string>);

describe('signing through the API, checked with the standardwebhooks package on calls a real node makes', () => {
  const fx = useGateway();
  let target: HttpTarget;
  const ids: Record<string, string> = {};
  const shown: Record<string, string> = {};
  let node: ReturnType<typeof startNode>['node'] | undefined;
  beforeAll(async () => {
    target = await startHttpTarget();
    const { job } = await fx.client(JobService, fx.a.keys.write).createJob({
      name: 'hooks',
      endpoints: ['own', 'shared'].map((name) => spec(name, `${target.url}/${name}`, '300ms', { method: 'POST', body: { kind: { case: 'structValue', value: { fields: { n: { kind: { case: 'stringValue', value: name } } } } } } })),
    });
    for (const endpoint of (await fx.client(EndpointService, fx.a.keys.read).listEndpoints({ jobId: job!.id })).endpoints) ids[endpoint.name] = endpoint.id;
  });
  afterAll(async () => {
    await node?.stop();
    await target?.close();
  });

  const latest = (path: string, after: number) => waitFor(`a call to ${path}`, () => target.calls.find((call) => call.path === path && call.receivedAt > after));

  it('creates an endpoint secret and a tenant-wide one (admin keys, shown once), says whose secrets sign, and the calls verify', async () => {
    const admin = fx.client(SigningService, fx.a.keys.admin);
    const reader = fx.client(SigningService, fx.a.keys.read);
    expect((await reader.listSigningSecrets({ endpointId: ids.own })).signedBy).toBe(SignedBy.NONE);
    expect((await failure(() => fx.client(SigningService, fx.a.keys.write).createSigningSecret({ endpointId: ids.own }))).code).toBe(Code.PermissionDenied);

    const own = await admin.createSigningSecret({ endpointId: ids.own });
    expect(own.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(own.signingSecret).toMatchObject({ endpointId: ids.own, active: true });
    const tenant = await admin.createSigningSecret({});
    Object.assign(shown, { own: own.secret, tenant: tenant.secret });
    expect(tenant.signingSecret).toMatchObject({ endpointId: '', active: true });

    const listed = await reader.listSigningSecrets({ endpointId: ids.own });
    expect(listed).toMatchObject({ signedBy: SignedBy.ENDPOINT, signingSecrets: [{ id: own.signingSecret!.id, active: true }] });
    expect(JSON.stringify(listed, (_key, value: unknown) => (typeof value === 'bigint' ? String(value) : value))).not.toContain(own.secret.slice(6));
    expect((await reader.listSigningSecrets({ endpointId: ids.shared })).signedBy).toBe(SignedBy.TENANT);
    expect((await reader.listSigningSecrets({})).signingSecrets.map((secret) => secret.id)).toEqual([tenant.signingSecret!.id]);

    const since = Date.now();
    node = startNode(fx.db, { signingRefreshMs: 300 }).node;
    const ownCall = await latest('/own', since);
    const sharedCall = await latest('/shared', since);
    expect(verified(own.secret, ownCall)).toEqual({ n: 'own' });
    expect(verified(tenant.secret, sharedCall)).toEqual({ n: 'shared' });
    // The endpoint's own secret wins: the tenant's does not sign its calls.
    expect(() => verified(tenant.secret, ownCall)).toThrow();
  });

  it('rotates (both secrets sign during the grace), revokes (the tenant’s secret takes over), and names a bad grace', async () => {
    const admin = fx.client(SigningService, fx.a.keys.admin);
    const [first] = (await admin.listSigningSecrets({ endpointId: ids.own })).signingSecrets;
    const bad = await failure(() => admin.rotateSigningSecret({ endpointId: ids.own, grace: '40d' }));
    expect(bad.code).toBe(Code.InvalidArgument);
    expect(bad.rawMessage).toBe('grace: must be a duration from 0s to 30d, such as 24h (empty: 24h), got "40d"');

    const rotated = await admin.rotateSigningSecret({ endpointId: ids.own, grace: '1h' });
    expect(rotated.retired.map((secret) => secret.id)).toEqual([first!.id]);
    expect(rotated.retired[0]!.expiresAt).toBeDefined();
    const rolled = await waitFor('a call with two signatures', () => target.calls.find((call) => call.path === '/own' && signatures(call) === 2));
    expect(verified(rotated.secret, rolled)).toEqual({ n: 'own' });
    expect(verified(shown.own!, rolled)).toEqual({ n: 'own' });

    for (const secret of (await admin.listSigningSecrets({ endpointId: ids.own })).signingSecrets) await admin.revokeSigningSecret({ signingSecretId: secret.id });
    const after = await fx.client(SigningService, fx.a.keys.read).listSigningSecrets({ endpointId: ids.own });
    expect(after.signedBy).toBe(SignedBy.TENANT);
    expect(after.signingSecrets.every((secret) => !secret.active && secret.revokedAt)).toBe(true);
    const [tenantSecret] = (await admin.listSigningSecrets({})).signingSecrets;
    expect(tenantSecret!.active).toBe(true);
    const since = Date.now() + 400;
    expect(verified(shown.tenant!, await latest('/own', since))).toEqual({ n: 'own' });
    expect((await failure(() => admin.revokeSigningSecret({ signingSecretId: 'nope' }))).rawMessage).toBe('signing_secret_id: must be a UUID');
    expect(internalErrors(fx)).toEqual([]);
  });
});
