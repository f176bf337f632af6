import { randomBytes } from 'node:crypto';
import { Code, ConnectError } from '@connectrpc/connect';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyService, AuditService, EndpointService, HintKind, HintService, JobService, Role, SecretService, SigningService, type AuditEvent } from '@tickwise/api';
import { SecretsKey } from '@tickwise/platform';
import { internalErrors, spec, useGateway } from '../../../test/support/gateway.ts';

// Every change made through the API is in the tenant's audit trail, with the key that made it, its
// target and a redacted summary; reads, refused calls and dry runs are not; ListAuditEvents is the
// caller's tenant's only, newest first, by pages and since a time, for admin keys.

const SECRET_VALUE = `value-${randomBytes(12).toString('hex')}`;

describe('the audit trail of the API', () => {
  const fx = useGateway({ secretsKeys: { current: new SecretsKey(randomBytes(32)), previous: null } });
  let keyIds: Record<'write' | 'admin', string>;

  /** Every event of tenant A, oldest first. */
  async function trail(): Promise<AuditEvent[]> {
    const events: AuditEvent[] = [];
    let pageToken = '';
    do {
      const page = await fx.client(AuditService, fx.a.keys.admin).listAuditEvents({ pageSize: 7, pageToken });
      events.push(...page.events);
      pageToken = page.nextPageToken;
    } while (pageToken !== '');
    return events.reverse();
  }

  beforeAll(async () => {
    const { rows } = await fx.db.pool.query<{ id: string; role: 'write' | 'admin' }>("SELECT id, role FROM api_keys WHERE tenant_id = $1 AND role IN ('write', 'admin')", [fx.a.id]);
    keyIds = Object.fromEntries(rows.map((row) => [row.role, row.id])) as typeof keyIds;
  });

  it('records each kind of change with its key, target and summary, and nothing for reads, refusals and dry runs', async () => {
    const jobs = fx.client(JobService, fx.a.keys.write);
    const endpoints = fx.client(EndpointService, fx.a.keys.write);
    const hints = fx.client(HintService, fx.a.keys.write);
    const keys = fx.client(ApiKeyService, fx.a.keys.admin);
    const secrets = fx.client(SecretService, fx.a.keys.write);
    const signing = fx.client(SigningService, fx.a.keys.admin);

    const { job } = await jobs.createJob({ name: 'orders', endpoints: [spec('poll', 'https://api.example.com/orders?token=hunter2', '1h', { headers: { Authorization: 'Bearer hunter2' } })] });
    const jobId = job!.id;
    const endpointId = (await endpoints.listEndpoints({ jobId })).endpoints[0]!.id;
    await jobs.updateJob({ jobId, notify: { targets: [{ target: { case: 'slack', value: 'https://hooks.slack.com/services/T0/B0/XXXX' }, after: 2 }] } });
    await endpoints.updateEndpoint({ endpointId, spec: spec('', 'https://api.example.com/orders', '30m', { method: 'POST', body: { kind: { case: 'stringValue', value: 'hunter2' } } }) });
    const created = await endpoints.createEndpoint({ jobId, endpoint: spec('push', 'https://api.example.com/push', '1h') });
    await endpoints.pauseEndpoint({ endpointId, reason: 'maintenance' });
    await endpoints.resumeEndpoint({ endpointId });
    await endpoints.triggerEndpoint({ endpointId, reason: 'check now' });
    const { hint } = await hints.addHint({ endpointId, kind: HintKind.INTERVAL, interval: '5m', reason: 'busy hour' });
    await hints.clearHint({ endpointId, hintId: hint!.id });
    await jobs.pauseJob({ jobId, reason: 'freeze', until: timestampFromDate(new Date(Date.now() + 3_600_000)) });
    await jobs.resumeJob({ jobId });
    await endpoints.archiveEndpoint({ endpointId: created.endpoint!.id });
    await jobs.applyJobs({ dryRun: true, jobs: [{ name: 'reports', endpoints: [spec('daily', 'https://api.example.com/daily', '1d')] }] });
    await jobs.applyJobs({ jobs: [{ name: 'reports', endpoints: [spec('daily', 'https://api.example.com/daily', '1d')] }] });
    const newKey = await keys.createApiKey({ name: 'ci', role: Role.READ });
    await keys.revokeApiKey({ apiKeyId: newKey.apiKey!.id });
    await secrets.setSecret({ name: 'DB_PASSWORD', value: SECRET_VALUE });
    await secrets.deleteSecret({ name: 'DB_PASSWORD' });
    const signed = await signing.createSigningSecret({ endpointId });
    await signing.revokeSigningSecret({ signingSecretId: signed.signingSecret!.id });
    await jobs.archiveJob({ jobId });
    // Reads and refused calls leave nothing.
    await jobs.listJobs({});
    await endpoints.getMachine({ endpointId });
    await expect(endpoints.pauseEndpoint({ endpointId: '01900000-0000-7000-8000-000000000000', reason: 'x' })).rejects.toThrow(ConnectError);
    await expect(jobs.createJob({ name: 'bad', endpoints: [spec('e', 'https://x/\u0000', '1h')] })).rejects.toThrow(ConnectError);

    const events = await trail();
    const rows = events.map((event) => [event.action.replace('tickwise.v1.', ''), event.target]);
    expect(rows).toEqual([
      ['JobService/CreateJob', 'job orders'],
      ['JobService/UpdateJob', 'job orders'],
      ['EndpointService/UpdateEndpoint', 'endpoint orders/poll'],
      ['EndpointService/CreateEndpoint', 'endpoint orders/push'],
      ['EndpointService/PauseEndpoint', 'endpoint orders/poll'],
      ['EndpointService/ResumeEndpoint', 'endpoint orders/poll'],
      ['EndpointService/TriggerEndpoint', 'endpoint orders/poll'],
      ['HintService/AddHint', 'endpoint orders/poll'],
      ['HintService/ClearHint', 'endpoint orders/poll'],
      ['JobService/PauseJob', 'job orders'],
      ['JobService/ResumeJob', 'job orders'],
      ['EndpointService/ArchiveEndpoint', 'endpoint orders/push'],
      ['JobService/ApplyJobs', 'jobs reports'],
      ['ApiKeyService/CreateApiKey', 'key ci'],
      ['ApiKeyService/RevokeApiKey', 'key ci'],
      ['SecretService/SetSecret', 'secret DB_PASSWORD'],
      ['SecretService/DeleteSecret', 'secret DB_PASSWORD'],
      ['SigningService/CreateSigningSecret', 'endpoint orders/poll'],
      ['SigningService/RevokeSigningSecret', 'endpoint orders/poll'],
      ['JobService/ArchiveJob', 'job orders'],
    ]);
    const by = (action: string) => events.find((event) => event.action === `tickwise.v1.${action}`)!;
    // Who: the key, by id and name.
    expect(by('JobService/CreateJob')).toMatchObject({ actorKeyId: keyIds.write, actor: 'write-key', via: 'api' });
    expect(by('ApiKeyService/CreateApiKey')).toMatchObject({ actorKeyId: keyIds.admin, actor: 'admin-key' });
    // What changed.
    expect(by('JobService/CreateJob').summary).toMatchObject({ jobId, endpoints: [{ name: 'poll', url: 'https://api.example.com/orders?…', headers: ['Authorization'], schedule: { every: '1h' } }] });
    expect(by('JobService/UpdateJob').summary).toEqual({ jobId, notify: [{ channel: 'slack', url: 'https://hooks.slack.com/…', after: 2 }] });
    expect(by('EndpointService/UpdateEndpoint').summary).toMatchObject({ endpointId, action: 'updated', spec: { method: 'POST', body: 'set (not recorded)', schedule: { every: '30m' } } });
    expect(by('EndpointService/PauseEndpoint').summary).toEqual({ endpointId, reason: 'maintenance' });
    expect(by('HintService/AddHint').summary).toMatchObject({ endpointId, hintId: hint!.id, kind: 'interval', interval: '5m', reason: 'busy hour' });
    expect(by('JobService/PauseJob').summary).toMatchObject({ jobId, reason: 'freeze', endpoints: 2 });
    expect(by('JobService/ApplyJobs').summary).toEqual({ changes: [{ job: 'reports', action: 'created' }, { job: 'reports', endpoint: 'daily', action: 'created' }], unchanged: 0 });
    expect(by('ApiKeyService/CreateApiKey').summary).toEqual({ apiKeyId: newKey.apiKey!.id, role: 'read' });
    expect(by('SecretService/SetSecret').summary).toEqual({ created: true });
    expect(by('SigningService/CreateSigningSecret').summary).toEqual({ signingSecretId: signed.signingSecret!.id });
    // Never a credential: not the secret's value, the signing secret, the new key, a header value, a query, a body, a Slack path.
    const stored = JSON.stringify((await fx.db.pool.query('SELECT * FROM audit_events')).rows);
    for (const secret of [SECRET_VALUE, signed.secret, newKey.key, 'hunter2', 'XXXX', 'whsec_', 'tw_']) expect(stored).not.toContain(secret);
    expect(internalErrors(fx)).toEqual([]);
  });

  it('lists the caller\'s tenant only, since a time, to admin keys', async () => {
    await fx.client(JobService, fx.b.keys.write).createJob({ name: 'of-b' });
    const ofB = (await fx.client(AuditService, fx.b.keys.admin).listAuditEvents({})).events;
    expect(ofB.map((event) => event.target)).toEqual(['job of-b']);
    expect((await trail()).some((event) => event.target === 'job of-b')).toBe(false);

    const since = timestampFromDate(new Date(Date.now() + 60_000));
    expect((await fx.client(AuditService, fx.a.keys.admin).listAuditEvents({ since })).events).toEqual([]);
    const refused = await fx.client(AuditService, fx.a.keys.write).listAuditEvents({}).then(() => null, (error: unknown) => ConnectError.from(error));
    expect(refused?.code).toBe(Code.PermissionDenied);
  });

  it('keeps the change when its event cannot be recorded, and logs the event instead', async () => {
    await fx.db.pool.query('ALTER TABLE audit_events RENAME TO audit_events_away');
    try {
      const { job } = await fx.client(JobService, fx.a.keys.write).createJob({ name: 'unrecorded' });
      expect(job!.name).toBe('unrecorded');
    } finally {
      await fx.db.pool.query('ALTER TABLE audit_events_away RENAME TO audit_events');
    }
    const logged = fx.log.lines.filter((line) => line.includes('audit: a change was made but could not be recorded'));
    expect(logged).toHaveLength(1);
    expect(logged[0]).toContain('job unrecorded');
    expect(internalErrors(fx)).toEqual([]);
  });
});
