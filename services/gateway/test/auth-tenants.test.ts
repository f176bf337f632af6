import type { DescService } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { insertAnalyses, newId } from '@tickwise/db';
import { beforeAll, describe, expect, it } from 'vitest';
import { PROCEDURE_ROLES } from '../src/index.ts';
import { randomBytes } from 'node:crypto';
import { AnalysisService, ApiKeyService, EndpointService, HintKind, HintService, JobService, NotificationService, OverviewService, Role, RunService, SecretService, SigningService, WatchService } from '@tickwise/api';
import { SecretsKey } from '@tickwise/platform';
import { AuditService } from '@tickwise/api';
import { internalErrors, PROTOCOLS, spec, transportFor, useGateway } from '../../../test/support/gateway.ts';

async function failure(call: () => Promise<unknown>): Promise<ConnectError> {
  try {
    await call();
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error('expected the call to fail');
}

const SERVICES: DescService[] = [JobService, EndpointService, RunService, HintService, AnalysisService, WatchService, ApiKeyService, SecretService, SigningService, AuditService];

describe('API keys and tenants', () => {
  const fx = useGateway({ secretsKeys: { current: new SecretsKey(randomBytes(32)), previous: null } });
  const ids = { job: '', endpoint: '', run: '', hint: '', analysis: '', key: '', signing: '' };

  beforeAll(async () => {
    const { job } = await fx.client(JobService, fx.a.keys.write).createJob({ name: 'secret-job', endpoints: [spec('secret', 'http://127.0.0.1:1/secret', '1h')] });
    ids.job = job!.id;
    ids.endpoint = (await fx.client(EndpointService, fx.a.keys.read).listEndpoints({})).endpoints[0]!.id;
    const hint = await fx.client(HintService, fx.a.keys.write).addHint({ endpointId: ids.endpoint, kind: HintKind.INTERVAL, interval: '2h', reason: 'a' });
    ids.hint = hint.hint!.id;
    ids.run = newId();
    await fx.db.pool.query(
      `INSERT INTO runs (id, endpoint_id, job_id, slot, attempt, worker, status, http_status, duration_ms, started_at, finished_at, response_body)
       VALUES ($1, $2, $3, now(), 1, 'w', 'succeeded', 200, 5, now(), now(), 'tenant A secret body')`,
      [ids.run, ids.endpoint, ids.job],
    );
    ids.analysis = newId();
    await insertAnalyses(fx.db.pool, [{ id: ids.analysis, endpointId: ids.endpoint, planner: 'heuristic', trigger: 't', inputs: {}, toolCalls: [], reasoning: null, model: null, tokensIn: null, tokensOut: null, durationMs: 1, outcome: 'no_change', outcomeDetail: null, hintIds: [] }]);
    ids.key = (await fx.client(ApiKeyService, fx.a.keys.admin).listApiKeys({})).apiKeys[0]!.id;
    ids.signing = (await fx.client(SigningService, fx.a.keys.admin).createSigningSecret({ endpointId: ids.endpoint })).signingSecret!.id;
    await fx.client(SecretService, fx.a.keys.write).setSecret({ name: 'A_TOKEN', value: 'tenant-a-value' });
  });

  it('refuses calls without a key, with a malformed one, an unknown one, a wrong secret or a revoked one: UNAUTHENTICATED, over every protocol', async () => {
    const good = fx.a.keys.read;
    const wrongSecret = `${good.slice(0, 16)}${good[16] === 'A' ? 'B' : 'A'}${good.slice(17)}`;
    const cases: [string | null, string][] = [
      [null, 'missing API key'],
      ['not-a-key', 'malformed API key'],
      ['tw_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'invalid or revoked API key'],
      [wrongSecret, 'invalid or revoked API key'],
    ];
    for (const protocol of PROTOCOLS) {
      for (const [key, message] of cases) {
        const error = await failure(() => createClient(JobService, transportFor(fx.gateway.url, protocol, key)).listJobs({}));
        expect(error.code, `${protocol} ${key}`).toBe(Code.Unauthenticated);
        expect(error.rawMessage).toContain(message);
      }
    }
    const basic = await failure(() => fx.client(JobService, null).listJobs({}, { headers: { authorization: 'Basic dXNlcjpwYXNz' } }));
    expect(basic.code).toBe(Code.Unauthenticated);
    expect(basic.rawMessage).toContain('"Bearer <key>"');
  });

  it('lets an admin create a key (shown once, stored as a hash), use it, and revoke it', async () => {
    const admin = fx.client(ApiKeyService, fx.a.keys.admin);
    const created = await admin.createApiKey({ name: 'ci', role: Role.READ });
    expect(created.key).toMatch(/^tw_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    expect(created.apiKey).toMatchObject({ name: 'ci', role: Role.READ, prefix: created.key.slice(3, 15) });
    const { rows } = await fx.db.pool.query<Record<string, unknown>>('SELECT * FROM api_keys WHERE id = $1', [created.apiKey!.id]);
    expect(JSON.stringify(rows[0])).not.toContain(created.key.slice(16));
    expect((await fx.client(JobService, created.key, 'grpc').listJobs({})).jobs.map((job) => job.name)).toEqual(['secret-job']);
    const { rows: used } = await fx.db.pool.query<{ last_used_at: Date | null }>('SELECT last_used_at FROM api_keys WHERE id = $1', [created.apiKey!.id]);
    expect(used[0]!.last_used_at).not.toBeNull();
    expect((await admin.listApiKeys({})).apiKeys.map((key) => key.name)).toContain('ci');
    const revoked = await admin.revokeApiKey({ apiKeyId: created.apiKey!.id });
    expect(revoked.apiKey?.revokedAt).toBeDefined();
    expect((await failure(() => fx.client(JobService, created.key).listJobs({}))).code).toBe(Code.Unauthenticated);
  });

  it('checks the role of every procedure before anything else: PERMISSION_DENIED below it', async () => {
    const rank = { read: 0, write: 1, admin: 2 } as const;
    let checked = 0;
    for (const service of SERVICES) {
      for (const method of service.methods) {
        const required = PROCEDURE_ROLES.get(`${service.typeName}/${method.name}`);
        expect(required, `${service.typeName}/${method.name} has a role`).toBeDefined();
        for (const role of ['read', 'write'] as const) {
          if (rank[role] >= rank[required!]) continue;
          const client = createClient(service, transportFor(fx.gateway.url, 'connect', fx.a.keys[role])) as unknown as Record<string, (request: object) => AsyncIterable<unknown> | Promise<unknown>>;
          const call = client[method.localName]!;
          const error = await failure(async () => {
            const result = call({});
            if (Symbol.asyncIterator in result) for await (const _ of result) break;
            else await result;
          });
          expect(error.code, `${role} → ${method.name}`).toBe(Code.PermissionDenied);
          checked++;
        }
      }
    }
    // 16 write procedures refused to a read key; 7 admin ones refused to read and write keys.
    expect(checked).toBe(30);
  });

  it('never lets a key of tenant B see or change anything of tenant A, whatever ids it sends', async () => {
    const dumpA = async () => {
      const tables = await Promise.all([
        fx.db.pool.query('SELECT * FROM jobs WHERE tenant_id = $1 ORDER BY id', [fx.a.id]),
        fx.db.pool.query('SELECT * FROM endpoints WHERE tenant_id = $1 ORDER BY id', [fx.a.id]),
        fx.db.pool.query('SELECT * FROM hints WHERE endpoint_id = $1 ORDER BY id', [ids.endpoint]),
        fx.db.pool.query('SELECT * FROM api_keys WHERE tenant_id = $1 ORDER BY id', [fx.a.id]),
        fx.db.pool.query('SELECT * FROM secrets WHERE tenant_id = $1 ORDER BY name', [fx.a.id]),
        fx.db.pool.query('SELECT * FROM signing_secrets WHERE endpoint_id = $1 ORDER BY id', [ids.endpoint]),
      ]);
      return JSON.stringify(tables.map((table) => table.rows.map((row: Record<string, unknown>) => ({ ...row, last_used_at: null }))));
    };
    const before = await dumpA();
    const b = fx.b.keys.admin;
    const future = timestampFromDate(new Date(Date.now() + 60_000));
    const jobs = fx.client(JobService, b);
    const endpoints = fx.client(EndpointService, b);
    const attacks: [string, () => Promise<unknown>][] = [
      ['JobService/GetJob', () => jobs.getJob({ jobId: ids.job })],
      ['JobService/UpdateJob', () => jobs.updateJob({ jobId: ids.job, synthetic: true })],
      ['JobService/PauseJob', () => jobs.pauseJob({ jobId: ids.job, reason: 'x' })],
      ['JobService/ResumeJob', () => jobs.resumeJob({ jobId: ids.job })],
      ['JobService/ArchiveJob', () => jobs.archiveJob({ jobId: ids.job })],
      ['EndpointService/CreateEndpoint', () => endpoints.createEndpoint({ jobId: ids.job, endpoint: spec('intruder', 'http://127.0.0.1:1/x') })],
      ['EndpointService/GetEndpoint', () => endpoints.getEndpoint({ endpointId: ids.endpoint })],
      ['EndpointService/UpdateEndpoint', () => endpoints.updateEndpoint({ endpointId: ids.endpoint, spec: spec('', 'http://127.0.0.1:1/x') })],
      ['EndpointService/PauseEndpoint', () => endpoints.pauseEndpoint({ endpointId: ids.endpoint, reason: 'x' })],
      ['EndpointService/ResumeEndpoint', () => endpoints.resumeEndpoint({ endpointId: ids.endpoint })],
      ['EndpointService/ArchiveEndpoint', () => endpoints.archiveEndpoint({ endpointId: ids.endpoint })],
      ['EndpointService/TriggerEndpoint', () => endpoints.triggerEndpoint({ endpointId: ids.endpoint })],
      ['EndpointService/GetMachine', () => endpoints.getMachine({ endpointId: ids.endpoint })],
      ['EndpointService/PreviewSchedule', () => endpoints.previewSchedule({ target: { case: 'endpointId', value: ids.endpoint } })],
      ['RunService/ListRuns', () => fx.client(RunService, b).listRuns({ endpointId: ids.endpoint })],
      ['RunService/GetRun', () => fx.client(RunService, b).getRun({ runId: ids.run })],
      ['HintService/ListHints', () => fx.client(HintService, b).listHints({ endpointId: ids.endpoint, includePast: true })],
      ['HintService/AddHint', () => fx.client(HintService, b).addHint({ endpointId: ids.endpoint, kind: HintKind.RUN_AT, at: future, reason: 'x' })],
      ['HintService/ClearHint', () => fx.client(HintService, b).clearHint({ endpointId: ids.endpoint, hintId: ids.hint })],
      ['AnalysisService/ListAnalyses', () => fx.client(AnalysisService, b).listAnalyses({ endpointId: ids.endpoint })],
      ['AnalysisService/GetAnalysis', () => fx.client(AnalysisService, b).getAnalysis({ analysisId: ids.analysis })],
      ['ApiKeyService/RevokeApiKey', () => fx.client(ApiKeyService, b).revokeApiKey({ apiKeyId: ids.key })],
      ['SecretService/DeleteSecret', () => fx.client(SecretService, b).deleteSecret({ name: 'A_TOKEN' })],
      ['SigningService/CreateSigningSecret', () => fx.client(SigningService, b).createSigningSecret({ endpointId: ids.endpoint })],
      ['SigningService/RotateSigningSecret', () => fx.client(SigningService, b).rotateSigningSecret({ endpointId: ids.endpoint })],
      ['SigningService/RevokeSigningSecret', () => fx.client(SigningService, b).revokeSigningSecret({ signingSecretId: ids.signing })],
      ['SigningService/ListSigningSecrets', () => fx.client(SigningService, b).listSigningSecrets({ endpointId: ids.endpoint })],
      ['WatchService/Watch', async () => { for await (const _ of fx.client(WatchService, b).watch({ endpointIds: [ids.endpoint] })) break; }],
      ['WatchService/Watch (job)', async () => { for await (const _ of fx.client(WatchService, b, 'grpc').watch({ jobIds: [ids.job] })) break; }],
    ];
    for (const [name, attack] of attacks) {
      const error = await failure(attack);
      expect(error.code, name).toBe(Code.NotFound);
      // Nothing of A's is named back ("secret" is the name of A's endpoint, "secret-job" of its job).
      expect(error.rawMessage, name).not.toMatch(/secret-job|"secret"|tenant-a-value/);
    }
    // Lists answer with B's own data only, even when filtered by A's ids.
    expect((await jobs.listJobs({ includeArchived: true })).jobs).toEqual([]);
    expect((await endpoints.listEndpoints({ jobId: ids.job, includeArchived: true })).endpoints).toEqual([]);
    expect((await fx.client(ApiKeyService, b).listApiKeys({})).apiKeys.every((key) => !key.name.startsWith('ci'))).toBe(true);
    expect((await fx.client(OverviewService, b).listEndpointSummaries({ jobId: ids.job })).summaries).toEqual([]);
    expect((await fx.client(NotificationService, b).listNotifications({ endpointId: ids.endpoint, jobId: ids.job })).notifications).toEqual([]);
    expect((await fx.client(SecretService, b).listSecrets({})).secrets).toEqual([]);
    expect((await fx.client(SigningService, b).listSigningSecrets({})).signingSecrets).toEqual([]);
    expect(await dumpA()).toBe(before);
    // Every procedure that takes an id of another tenant's object is in the sweep above; the rest only list or create the caller's own.
    const swept = new Set(attacks.map(([name]) => name.split(' ')[0]));
    const ownOnly = ['JobService/CreateJob', 'JobService/ListJobs', 'JobService/ApplyJobs', 'EndpointService/ListEndpoints', 'ApiKeyService/CreateApiKey', 'ApiKeyService/ListApiKeys', 'OverviewService/WhoAmI', 'OverviewService/ListEndpointSummaries', 'NodeService/ListLeases', 'SecretService/SetSecret', 'SecretService/ListSecrets', 'NotificationService/ListNotifications', 'AuditService/ListAuditEvents'];
    expect([...PROCEDURE_ROLES.keys()].map((key) => key.replace('tickwise.v1.', '')).filter((key) => !swept.has(key) && !ownOnly.includes(key))).toEqual([]);
    expect(internalErrors(fx)).toEqual([]);
  });
});
