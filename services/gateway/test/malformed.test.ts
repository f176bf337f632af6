import type { DescMessage, DescService } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as api from '@tickwise/api';
import { AnalysisService, ApiKeyService, EndpointService, HintService, JobService, RunService } from '@tickwise/api';
import { PROCEDURE_ROLES } from '@tickwise/gateway';
import { internalErrors, spec, useGateway } from '../../../test/support/gateway.ts';
import { hostileJsonText, messageArbitrary } from '../../../test/support/hostile-payloads.ts';

const UNARY_SERVICES: DescService[] = [JobService, EndpointService, RunService, HintService, AnalysisService, ApiKeyService];
/** What a bad request may get: a clear answer about the request, never INTERNAL or UNKNOWN. */
const CLEAR = new Set(['invalid_argument', 'not_found', 'already_exists', 'failed_precondition', 'resource_exhausted', 'out_of_range']);

interface Answer {
  status: number;
  code: string | null;
  message: string;
}

describe('malformed input', () => {
  const fx = useGateway();

  async function post(path: string, body: string | Uint8Array, contentType = 'application/json'): Promise<Answer> {
    const response = await fetch(`${fx.gateway.url}/${path}`, { method: 'POST', headers: { 'content-type': contentType, authorization: `Bearer ${fx.a.keys.admin}` }, body: body as BodyInit });
    const text = await response.text();
    if (response.status === 200) return { status: 200, code: null, message: '' };
    const parsed = JSON.parse(text) as { code?: string; message?: string };
    return { status: response.status, code: parsed.code ?? null, message: parsed.message ?? '' };
  }

  const expectClear = (answer: Answer, what: string) => {
    if (answer.status === 200) return;
    expect(CLEAR.has(answer.code ?? ''), `${what} → ${answer.status} ${answer.code}: ${answer.message}`).toBe(true);
    expect(answer.message, what).not.toBe('');
  };

  it('names the field and the reason for each bad value (table)', async () => {
    const long = 'x'.repeat(3_000);
    const cases: [string, unknown, string][] = [
      ['JobService/GetJob', {}, 'job_id: is required'],
      ['JobService/GetJob', { jobId: 'nope' }, 'job_id: must be a UUID'],
      ['JobService/ListJobs', { pageSize: -1 }, 'page_size: must not be negative'],
      ['JobService/ListJobs', { pageSize: 501 }, 'page_size: must be at most 500'],
      ['JobService/ListJobs', { pageToken: 'garbage' }, 'page_token: is not a page token this list returned'],
      ['JobService/ListJobs', { namePrefix: '%_' }, 'name_prefix: may hold only'],
      ['JobService/CreateJob', { name: '' }, 'name: must be 1-63'],
      ['JobService/CreateJob', { name: 'ok', endpoints: [{ name: 'a', url: 'ftp://x', schedule: { every: '30s' } }] }, 'endpoints[0].url: must be an absolute http:// or https:// URL'],
      ['JobService/CreateJob', { name: 'ok', endpoints: [{ name: 'a', url: 'http://x', schedule: { every: '30x' } }] }, 'endpoints[0].schedule.every: invalid duration "30x"'],
      ['JobService/CreateJob', { name: 'ok', endpoints: [{ name: 'a', url: 'http://x' }] }, 'endpoints[0].schedule: is required'],
      ['JobService/CreateJob', { name: 'ok', endpoints: [{ name: 'a', url: 'http://x', schedule: { cron: { expression: 'nope' } } }] }, 'endpoints[0].schedule.cron.expression: invalid cron expression'],
      ['JobService/CreateJob', { name: 'ok', endpoints: [{ name: 'a', url: 'http://x', schedule: { cron: { expression: '* * * * *', timezone: 'Mars/Base' } } }] }, 'endpoints[0].schedule.cron.timezone: unknown IANA time zone'],
      ['JobService/CreateJob', { name: 'ok', endpoints: [{ name: 'a', url: 'http://x', schedule: { every: '1m' }, minInterval: '5m' }] }, 'endpoints[0].schedule.every: every 1m is below minInterval 5m'],
      ['JobService/CreateJob', { name: 'ok', endpoints: [{ name: 'a', url: 'http://x', schedule: { every: '1m' }, headers: { 'Idempotency-Key': 'x' } }] }, 'endpoints[0].headers["Idempotency-Key"]: header "Idempotency-Key" is set by Tickwise'],
      ['JobService/CreateJob', { name: 'ok', endpoints: [{ name: 'a', url: 'http://x', schedule: { every: '1m' }, body: { a: 1 } }] }, 'endpoints[0].body: a GET request cannot carry a body'],
      ['JobService/CreateJob', { name: 'ok', endpoints: [{ name: 'a', url: `http://x/${long}`, schedule: { every: '1m' } }] }, 'endpoints[0].url: must be at most 2048 characters'],
      ['JobService/CreateJob', { name: 'ok', endpoints: [{ name: 'a', url: 'http://x', schedule: { every: '1m' } }, { name: 'a', url: 'http://y', schedule: { every: '1m' } }] }, 'endpoints[1].name: "a" is also the name of endpoints[0]'],
      ['JobService/CreateJob', { name: 'ok', endpoints: Array.from({ length: 101 }, (_, i) => ({ name: `e${i}`, url: 'http://x', schedule: { every: '1m' } })) }, 'endpoints: must have at most 100 endpoints'],
      ['JobService/PauseJob', { jobId: '01900000-0000-7000-8000-000000000000', reason: '' }, 'reason: is required'],
      ['JobService/PauseJob', { jobId: '01900000-0000-7000-8000-000000000000', reason: long }, 'reason: must be at most 500 characters'],
      ['EndpointService/ListEndpoints', { states: ['MACHINE_STATE_UNSPECIFIED'] }, 'states[0]: is required (not MACHINE_STATE_UNSPECIFIED)'],
      ['EndpointService/ListEndpoints', { states: [42] }, 'states[0]: is not a known value'],
      ['EndpointService/CreateEndpoint', { jobId: '01900000-0000-7000-8000-000000000000' }, 'endpoint: is required'],
      ['EndpointService/GetMachine', { endpointId: '01900000-0000-7000-8000-000000000000', transitionLimit: 101 }, 'transition_limit: must be at most 100'],
      ['HintService/AddHint', { endpointId: '01900000-0000-7000-8000-000000000000', reason: 'r' }, 'kind: is required (not HINT_KIND_UNSPECIFIED)'],
      ['HintService/AddHint', { endpointId: '01900000-0000-7000-8000-000000000000', kind: 'HINT_KIND_INTERVAL', interval: 'soon', reason: 'r' }, 'interval: invalid duration "soon"'],
      ['ApiKeyService/CreateApiKey', { name: 'k', role: 'ROLE_UNSPECIFIED' }, 'role: is required'],
      ['WatchService/Watch', {}, ''],
    ];
    for (const [procedure, body, expected] of cases.filter(([procedure]) => !procedure.startsWith('WatchService'))) {
      const answer = await post(`tickwise.v1.${procedure}`, JSON.stringify(body));
      expect(answer.code, `${procedure} ${JSON.stringify(body).slice(0, 80)}`).toBe('invalid_argument');
      expect(answer.message).toContain(expected);
    }
    expect(internalErrors(fx)).toEqual([]);
  });

  it('answers a bad body, a wrong JSON type, an unknown field, broken protobuf bytes and an oversized request clearly', async () => {
    const path = 'tickwise.v1.JobService/ListJobs';
    expect((await post(path, '{not json')).code).toBe('invalid_argument');
    expect((await post(path, '{"pageSize":"many"}')).code).toBe('invalid_argument');
    expect((await post(path, '{"pageSize":1e10}')).code).toBe('invalid_argument');
    expect((await post(path, '{"misspelt":1}')).code).toBe('invalid_argument');
    expect((await post(path, '[]')).code).toBe('invalid_argument');
    // Protobuf bytes that do not parse are refused by Connect's protocol layer before any Tickwise code
    // runs, with INTERNAL as gRPC's status-code table prescribes ("error parsing request proto").
    const binary = await post(path, new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]), 'application/proto');
    expect(binary).toMatchObject({ code: 'internal', message: expect.stringMatching(/^parse binary: /) });
    const huge = await post('tickwise.v1.JobService/CreateJob', JSON.stringify({ name: 'big', endpoints: [{ name: 'a', url: 'http://x', schedule: { every: '1m' }, headers: { a: 'x'.repeat(2 * 1024 * 1024) } }] }));
    expect(huge.code).toBe('resource_exhausted');
    expect(internalErrors(fx)).toEqual([]);
  });

  it('answers arbitrary payloads for every procedure with a clear code, never INTERNAL, and stays up (fast-check)', async () => {
    const knownId = (await fx.db.pool.query<{ id: string }>('SELECT id FROM api_keys LIMIT 1')).rows[0]!.id;
    const leaf = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.uuid(),
      fc.constant(knownId),
      fc.constantFrom('30s', '0ms', '999999d', '* * * * *', 'HINT_KIND_RUN_AT', 'MACHINE_STATE_IDLE', 'ROLE_ADMIN', '1970-01-01T00:00:00Z', '9999-12-31T23:59:59Z', 'http://127.0.0.1:1/x', ''),
    );
    const value = fc.letrec((tie) => ({ any: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('any'), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 8 }), tie('any'), { maxKeys: 3 })) })).any;
    const payloadFor = (input: DescMessage) => {
      const names = input.fields.map((field) => field.jsonName);
      return names.length === 0 ? fc.constant({}) : fc.dictionary(fc.constantFrom(...names), value, { maxKeys: names.length });
    };
    let requests = 0;
    for (const service of UNARY_SERVICES) {
      for (const method of service.methods) {
        await fc.assert(
          fc.asyncProperty(payloadFor(method.input), async (payload) => {
            requests++;
            expectClear(await post(`${service.typeName}/${method.name}`, JSON.stringify(payload)), `${method.name} ${JSON.stringify(payload).slice(0, 200)}`);
          }),
          { numRuns: 25 },
        );
      }
    }
    expect(requests).toBeGreaterThan(500);
    expect(internalErrors(fx)).toEqual([]);
    const health = await fetch(`${fx.gateway.url}/readyz`);
    expect(health.status).toBe(200);
  });

  it('answers hostile values in every string, number, map and body field of every unary procedure clearly, and a refused request writes nothing (fast-check)', async () => {
    // Every service of the contract with a procedure the gateway serves: a service added later is swept too.
    const services = (Object.values(api) as unknown[]).filter((value): value is DescService => (value as { kind?: unknown }).kind === 'service');
    const methods = services.flatMap((service) => service.methods.filter((method) => method.methodKind === 'unary' && PROCEDURE_ROLES.has(`${service.typeName}/${method.name}`)).map((method) => ({ service, method })));
    expect(methods.length).toBeGreaterThanOrEqual(32);
    const fingerprint = async () =>
      (
        await fx.db.pool.query(`SELECT
          (SELECT md5(coalesce(string_agg(j.id || j.name || j.notify::text || j.synthetic || coalesce(j.archived_at::text, ''), '|' ORDER BY j.id), '')) FROM jobs j) AS jobs,
          (SELECT md5(coalesce(string_agg(e.id || e.spec::text || coalesce(e.paused_reason, '') || e.version || e.hint_version, '|' ORDER BY e.id), '')) FROM endpoints e) AS endpoints,
          (SELECT md5(coalesce(string_agg(h.id || coalesce(h.cleared_at::text, ''), '|' ORDER BY h.id), '')) FROM hints h) AS hints,
          (SELECT md5(coalesce(string_agg(k.id || coalesce(k.revoked_at::text, ''), '|' ORDER BY k.id), '')) FROM api_keys k) AS keys,
          (SELECT count(*) FROM audit_events) AS audit`)
      ).rows[0];
    let requests = 0;
    let refused = 0;
    for (const { service, method } of methods) {
      // A fresh job and endpoint per procedure, so the ids lead past NOT_FOUND to the writes (an archive before does not stop them).
      // The admin key, as the requests: the sweep above may have revoked another key of the tenant.
      const { job } = await fx.client(JobService, fx.a.keys.admin).createJob({ name: `sweep-${requests}`, endpoints: [spec('e', 'http://127.0.0.1:1/x', '1h', { method: 'POST' })] });
      const endpointId = (await fx.client(EndpointService, fx.a.keys.admin).listEndpoints({ jobId: job!.id })).endpoints[0]!.id;
      await fc.assert(
        fc.asyncProperty(messageArbitrary(method.input, [job!.id, endpointId]), async (payload) => {
          requests++;
          const before = await fingerprint();
          const answer = await post(`${service.typeName}/${method.name}`, hostileJsonText(payload));
          const what = `${method.name} ${hostileJsonText(payload).slice(0, 300)}`;
          expectClear(answer, what);
          if (answer.status !== 200) {
            refused++;
            expect(await fingerprint(), `a refused request wrote: ${what}`).toEqual(before);
          }
        }),
        { numRuns: 20 },
      );
    }
    expect(refused).toBeGreaterThan(requests / 2);
    expect(internalErrors(fx)).toEqual([]);
  });
});
