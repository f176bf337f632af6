import { randomBytes } from 'node:crypto';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EndpointService, JobService, RunService, SecretService } from '@tickwise/api';
import { SecretsKey, type SecretsKeyring } from '@tickwise/platform';
import { resolveGatewayConfig, startGateway } from '@tickwise/gateway';
import { databaseText, spellingsOf } from '../../../test/support/dump.ts';
import { internalErrors, spec, transportFor, useGateway } from '../../../test/support/gateway.ts';
import { startHttpTarget, type HttpTarget } from '../../../test/support/http-target.ts';
import { memoryLogger } from '../../../test/support/logger.ts';
import { startNode } from '../../../test/support/scheduler.ts';
import { waitFor } from '../../../test/support/wait.ts';

const key = new SecretsKey(randomBytes(32));
const ring = (current: SecretsKey | null): SecretsKeyring => ({ current, previous: null });
const TOKEN = `tok-${randomBytes(12).toString('hex')}`;
const BODY_SECRET = `body-${randomBytes(12).toString('hex')}`;
const INLINE = `inline-${randomBytes(8).toString('hex')}`;

async function failure(call: () => Promise<unknown>): Promise<ConnectError> {
  try {
    await call();
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error('expected the call to fail');
}

const text = (message: unknown) => JSON.stringify(message, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));

describe('secrets through the API', () => {
  const fx = useGateway({ secretsKeys: ring(key) });
  let target: HttpTarget;
  beforeAll(async () => {
    // Echoes what it received: a captured body that would hold the values unless the node masks them.
    target = await startHttpTarget((call, response) => response.end(JSON.stringify({ path: call.path, authorization: call.headers.authorization, body: call.body })));
  });
  afterAll(async () => target?.close());

  it('sets, lists (names and times, to read keys), replaces and deletes secrets; the value never comes back', async () => {
    const writer = fx.client(SecretService, fx.a.keys.write);
    const created = await writer.setSecret({ name: 'TOKEN', value: TOKEN });
    expect(created).toMatchObject({ created: true, secret: { name: 'TOKEN' } });
    expect((await writer.setSecret({ name: 'TOKEN', value: TOKEN })).created).toBe(false);
    await writer.setSecret({ name: 'BODY_SECRET', value: BODY_SECRET });
    const listed = await fx.client(SecretService, fx.a.keys.read).listSecrets({});
    expect(listed.secrets.map((secret) => secret.name)).toEqual(['BODY_SECRET', 'TOKEN']);
    expect(text([created, listed])).not.toContain(TOKEN);
    expect((await failure(() => fx.client(SecretService, fx.a.keys.read).setSecret({ name: 'X', value: 'y' }))).code).toBe(Code.PermissionDenied);

    const bad = await failure(() => writer.setSecret({ name: '1bad', value: '' }));
    expect(bad.code).toBe(Code.InvalidArgument);
    expect(bad.rawMessage).toBe('name: must be 1-63 letters, digits, "_" or "-", starting with a letter, got "1bad"');
    const multiline = await failure(() => writer.setSecret({ name: 'PEM', value: `line one ${INLINE}\nline two` }));
    expect(multiline.rawMessage).toBe('value: must be one line: no line break or NUL character (a value may stand in a header)');
    expect((await failure(() => writer.setSecret({ name: 'BIG', value: 'x'.repeat(9_000) }))).rawMessage).toBe('value: must be at most 8192 bytes (UTF-8), got 9000');
    await writer.setSecret({ name: 'TEMP', value: 'temporary' });
    await writer.deleteSecret({ name: 'TEMP' });
    expect((await failure(() => writer.deleteSecret({ name: 'TEMP' }))).code).toBe(Code.NotFound);
    expect(fx.log.lines.join('\n')).not.toContain(INLINE);
  });

  it('refuses references to unknown secrets and URLs with user:pass@ on every write path, naming the field and the fix', async () => {
    const jobs = fx.client(JobService, fx.a.keys.write);
    const endpoints = fx.client(EndpointService, fx.a.keys.write);
    const unknown = await failure(() => jobs.createJob({ name: 'refs', endpoints: [spec('e', 'http://127.0.0.1:1/x', '1h', { headers: { Authorization: 'Bearer {{secrets.NOPE}}' } })] }));
    expect(unknown.code).toBe(Code.InvalidArgument);
    expect(unknown.rawMessage).toBe('endpoints[0].headers["Authorization"]: secret "NOPE" does not exist in this tenant: set it first (tickwise secrets set NOPE)');
    // Another tenant's secret of that name does not count.
    expect((await failure(() => fx.client(JobService, fx.b.keys.write).createJob({ name: 'refs', endpoints: [spec('e', 'http://127.0.0.1:1/{{secrets.TOKEN}}')] }))).rawMessage).toMatch(/^endpoints\[0\]\.url: secret "TOKEN" does not exist/);
    const { job } = await jobs.createJob({ name: 'refs', endpoints: [spec('e', 'http://127.0.0.1:1/x')] });
    const endpointId = (await endpoints.listEndpoints({ jobId: job!.id })).endpoints[0]!.id;
    expect((await failure(() => endpoints.createEndpoint({ jobId: job!.id, endpoint: spec('f', 'http://127.0.0.1:1/{{secrets.NOPE}}') }))).rawMessage).toMatch(/^endpoint\.url: secret "NOPE"/);
    expect((await failure(() => endpoints.updateEndpoint({ endpointId, spec: spec('', 'http://127.0.0.1:1/x', '1h', { headers: { 'X-Key': '{{secrets.NOPE}}' } }) }))).rawMessage).toMatch(/^spec\.headers\["X-Key"\]: secret "NOPE"/);
    const applied = await failure(() => jobs.applyJobs({ jobs: [{ name: 'refs', endpoints: [spec('e', 'http://127.0.0.1:1/x', '1h', { method: 'POST', body: { kind: { case: 'structValue', value: { fields: { t: { kind: { case: 'stringValue', value: '{{secrets.NOPE}}' } } } } } } })] }] }));
    expect(applied.rawMessage).toMatch(/^jobs\[0\]\.endpoints\[0\]\.body\.t: secret "NOPE"/);

    const credentialed = 'https://user:pass@127.0.0.1:1/x';
    const reason = 'must not hold a user name or password (user:pass@ is never sent, and anyone who reads the endpoint would see it): send the credentials in a header with a secret instead, e.g. Authorization: Basic {{secrets.NAME}} (tickwise secrets set NAME)';
    const refusals = await Promise.all([
      failure(() => jobs.createJob({ name: 'creds', endpoints: [spec('e', credentialed)] })),
      failure(() => endpoints.createEndpoint({ jobId: job!.id, endpoint: spec('g', credentialed) })),
      failure(() => endpoints.updateEndpoint({ endpointId, spec: spec('', credentialed) })),
      failure(() => jobs.applyJobs({ jobs: [{ name: 'refs', endpoints: [spec('e', credentialed)] }] })),
    ]);
    expect(refusals.map((error) => [error.code, error.rawMessage])).toEqual(
      ['endpoints[0].url', 'endpoint.url', 'spec.url', 'jobs[0].endpoints[0].url'].map((field) => [Code.InvalidArgument, `${field}: ${reason}`]),
    );
    expect(text(await endpoints.getEndpoint({ endpointId }))).not.toContain('user:pass');
  });

  it('shows credentials written inline as *** to read keys; write keys see them as written, references are shown as they are', async () => {
    const { job } = await fx.client(JobService, fx.a.keys.write).createJob({
      name: 'inline',
      endpoints: [spec('e', 'http://127.0.0.1:1/x', '1h', { headers: { Authorization: `Bearer ${INLINE}`, 'X-Api-Key': '{{secrets.TOKEN}}', 'X-Team': 'billing' } })],
    });
    const endpointId = (await fx.client(EndpointService, fx.a.keys.read).listEndpoints({ jobId: job!.id })).endpoints[0]!.id;
    // A row from before the URL rule: stored with credentials, never shown with them to a read key.
    await fx.db.pool.query(`UPDATE endpoints SET spec = jsonb_set(spec, '{url}', '"http://old:${INLINE}@127.0.0.1:1/x"') WHERE id = $1`, [endpointId]);
    const [read, listed, written] = await Promise.all([
      fx.client(EndpointService, fx.a.keys.read).getEndpoint({ endpointId }),
      fx.client(EndpointService, fx.a.keys.read).listEndpoints({ jobId: job!.id }),
      fx.client(EndpointService, fx.a.keys.write).getEndpoint({ endpointId }),
    ]);
    for (const endpoint of [read.endpoint!, listed.endpoints[0]!]) {
      expect(endpoint.spec!.headers).toEqual({ Authorization: 'Bearer ***', 'X-Api-Key': '{{secrets.TOKEN}}', 'X-Team': 'billing' });
      expect(endpoint.spec!.url).toBe('http://***@127.0.0.1:1/x');
    }
    expect(text([read, listed])).not.toContain(INLINE);
    expect(written.endpoint!.spec!.headers.Authorization).toBe(`Bearer ${INLINE}`);
  });

  it('end to end: a node sends the values; no API answer, log line or database row holds them, the captured body masked', async () => {
    const { job } = await fx.client(JobService, fx.a.keys.write).createJob({
      name: 'e2e',
      endpoints: [
        spec('call', `${target.url}/hook?token={{secrets.TOKEN}}`, '1h', {
          method: 'POST',
          headers: { Authorization: 'Bearer {{secrets.TOKEN}}' },
          body: { kind: { case: 'structValue', value: { fields: { secret: { kind: { case: 'stringValue', value: '{{secrets.BODY_SECRET}}' } } } } } },
        }),
      ],
    });
    const endpointId = (await fx.client(EndpointService, fx.a.keys.read).listEndpoints({ jobId: job!.id })).endpoints[0]!.id;
    const { node, log } = startNode(fx.db, { secretsKeys: ring(key) });
    const runs = fx.client(RunService, fx.a.keys.read);
    const listed = await waitFor('the run', async () => ((await runs.listRuns({ endpointId })).runs.length > 0 ? runs.listRuns({ endpointId }) : undefined)).finally(() => node.stop());

    const call = target.calls.find((each) => each.path.startsWith('/hook'))!;
    expect(call.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(call.path).toBe(`/hook?token=${TOKEN}`);
    expect(JSON.parse(call.body)).toEqual({ secret: BODY_SECRET });

    const run = await runs.getRun({ runId: listed.runs[0]!.id });
    expect(run.run!.status).toBe(1);
    const echoed = JSON.parse(run.run!.responseBody!) as { path: string; authorization: string; body: string };
    expect(echoed).toEqual({ path: '/hook?token=***', authorization: 'Bearer ***', body: JSON.stringify({ secret: '***' }) });

    const answers = await Promise.all([
      fx.client(EndpointService, fx.a.keys.read).getEndpoint({ endpointId }),
      fx.client(EndpointService, fx.a.keys.write).getEndpoint({ endpointId }),
      fx.client(EndpointService, fx.a.keys.read).listEndpoints({}),
      fx.client(EndpointService, fx.a.keys.read).getMachine({ endpointId, transitionLimit: 20 }),
      fx.client(SecretService, fx.a.keys.read).listSecrets({}),
    ]);
    const seen = [text([...answers, listed, run]), fx.log.lines.join('\n'), log.lines.join('\n'), await databaseText(fx.db)];
    for (const value of [TOKEN, BODY_SECRET]) {
      for (const spelling of spellingsOf(value)) for (const where of seen) expect(where).not.toContain(spelling);
    }
    expect(internalErrors(fx)).toEqual([]);
  });

  it('refuses SetSecret on a gateway without TICKWISE_SECRETS_KEY (FAILED_PRECONDITION naming it), which says so at start', async () => {
    const log = memoryLogger();
    const bare = await startGateway({ pool: fx.db.pool, connectionString: fx.db.url, config: resolveGatewayConfig({ host: '127.0.0.1', port: 0 }), log });
    try {
      expect(log.lines.some((line) => line.startsWith('warn TICKWISE_SECRETS_KEY is not set: SetSecret is refused'))).toBe(true);
      const error = await failure(() => createClient(SecretService, transportFor(bare.url, 'connect', fx.a.keys.write)).setSecret({ name: 'X', value: 'y' }));
      expect(error.code).toBe(Code.FailedPrecondition);
      expect(error.rawMessage).toBe('secrets cannot be set here: this server has no TICKWISE_SECRETS_KEY to encrypt them with (its operator sets it)');
    } finally {
      await bare.close();
    }
  });
});
