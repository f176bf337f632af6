import { Code, ConnectError } from '@connectrpc/connect';
import { beforeAll, describe, expect, it } from 'vitest';
import { EndpointService, JobService } from '@tickwise/api';
import { internalErrors, spec, useGateway } from '../../../test/support/gateway.ts';

// Values no handler could store (NUL, lone surrogates, non-finite numbers, out-of-range times) and
// headers no call could send: each is INVALID_ARGUMENT naming its field, on every procedure that
// carries one, and nothing is written. Before these checks they were `internal` answers.

describe('unstorable and unsendable values', () => {
  const fx = useGateway();
  let jobId: string;
  let endpointId: string;

  /** Everything a refused request could have written, as one comparable value. */
  async function fingerprint(): Promise<unknown> {
    const { rows } = await fx.db.pool.query(`SELECT
      (SELECT md5(coalesce(string_agg(j.id || j.name || j.notify::text || coalesce(j.archived_at::text, ''), '|' ORDER BY j.id), '')) FROM jobs j) AS jobs,
      (SELECT md5(coalesce(string_agg(e.id || e.spec::text || coalesce(e.paused_reason, '') || e.version, '|' ORDER BY e.id), '')) FROM endpoints e) AS endpoints,
      (SELECT count(*) FROM hints) AS hints,
      (SELECT md5(coalesce(string_agg(k.id || k.name || coalesce(k.revoked_at::text, ''), '|' ORDER BY k.id), '')) FROM api_keys k) AS keys,
          (SELECT count(*) FROM audit_events) AS audit`);
    return rows[0];
  }

  async function post(procedure: string, json: string): Promise<{ status: number; code?: string; message?: string }> {
    const response = await fetch(`${fx.gateway.url}/tickwise.v1.${procedure}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${fx.a.keys.admin}` }, body: json });
    return { status: response.status, ...((await response.json()) as { code?: string; message?: string }) };
  }

  beforeAll(async () => {
    const { job } = await fx.client(JobService, fx.a.keys.write).createJob({ name: 'target', endpoints: [spec('poll', 'http://127.0.0.1:1/poll', '1h', { method: 'POST' })] });
    jobId = job!.id;
    endpointId = (await fx.client(EndpointService, fx.a.keys.read).listEndpoints({ jobId })).endpoints[0]!.id;
  });

  it('names the field of each bad value on every procedure that carries one (Connect JSON)', async () => {
    const ep = (extra: string) => `{"name":"e","url":"http://127.0.0.1:1/x","method":"POST","schedule":{"every":"1m"}${extra}}`;
    const cases: [string, string, string][] = [
      ['JobService/CreateJob', '{"name":"a\\u0000"}', 'name: must not contain the NUL character'],
      ['JobService/CreateJob', `{"name":"n","endpoints":[{"name":"e","url":"http://127.0.0.1:1/\\u0000","schedule":{"every":"1m"}}]}`, 'endpoints[0].url: must not contain the NUL character'],
      ['JobService/CreateJob', `{"name":"n","endpoints":[${ep(',"headers":{"X-A":"a\\u0000"}')}]}`, 'endpoints[0].headers["X-A"]: must not contain the NUL character'],
      ['JobService/CreateJob', `{"name":"n","endpoints":[${ep(',"headers":{"X-A\\u0000":"a"}')}]}`, 'endpoints[0].headers: the key "X-A\\u0000" must not contain the NUL character'],
      ['JobService/CreateJob', `{"name":"n","endpoints":[${ep(',"headers":{"X-A":"a\\r\\nX-B: 1"}')}]}`, 'endpoints[0].headers["X-A"]: must not contain a line break (CR'],
      ['JobService/CreateJob', `{"name":"n","endpoints":[${ep(',"headers":{"X-A":"\u20ac"}')}]}`, 'endpoints[0].headers["X-A"]: cannot hold "\u20ac" (U+20AC'],
      ['JobService/CreateJob', `{"name":"n","endpoints":[${ep(',"headers":{"Transfer-Encoding":"chunked"}')}]}`, 'endpoints[0].headers["Transfer-Encoding"]: header "Transfer-Encoding" cannot be set'],
      ['JobService/CreateJob', `{"name":"n","endpoints":[${ep(',"headers":{"Content-Length":"9"}')}]}`, 'endpoints[0].headers["Content-Length"]: header "Content-Length" cannot be set'],
      ['JobService/CreateJob', `{"name":"n","endpoints":[${ep(',"headers":{"Host":"internal.example"}')}]}`, 'endpoints[0].headers["Host"]: header "Host" cannot be set: it is taken from the URL'],
      ['JobService/CreateJob', `{"name":"n","endpoints":[${ep(',"body":{"a":"\\u0000"}')}]}`, 'endpoints[0].body.a: must not contain the NUL character'],
      ['JobService/CreateJob', `{"name":"n","endpoints":[${ep(',"body":{"a":["x","\\ud800"]}')}]}`, 'endpoints[0].body.a[1]: must be valid Unicode: it holds a lone surrogate (U+D800'],
      ['JobService/CreateJob', `{"name":"n","endpoints":[${ep(',"body":{"n":1e400}')}]}`, 'endpoints[0].body.n: must be a finite number, not Infinity'],
      ['JobService/CreateJob', `{"name":"n","endpoints":[${ep(',"body":{"id":123456789012345678901}')}]}`, 'endpoints[0].body.id: 123456789012345680000 is beyond ±9007199254740991'],
      ['JobService/CreateJob', `{"name":"n","endpoints":[${ep(',"body":{"k\\u0000":1}')}]}`, 'endpoints[0].body: the key "k\\u0000" must not contain the NUL character'],
      ['JobService/CreateJob', `{"name":"n","endpoints":[${ep(',"success":{"bodyContains":"ok\\u0000"}')}]}`, 'endpoints[0].success.body_contains: must not contain the NUL character'],
      ['JobService/CreateJob', '{"name":"n","notify":[{"webhook":"https://hooks.example.com/\\u0000"}]}', 'notify[0].webhook: must not contain the NUL character'],
      ['JobService/ApplyJobs', `{"jobs":[{"name":"n","endpoints":[${ep(',"headers":{"X-A":"a\\nb"}')}]}]}`, 'jobs[0].endpoints[0].headers["X-A"]: must not contain a line break (LF'],
      ['JobService/UpdateJob', `{"jobId":"${'JOB'}","notify":{"targets":[{"slack":"https://hooks.slack.com/\\u0000"}]}}`, 'notify.targets[0].slack: must not contain the NUL character'],
      ['JobService/PauseJob', `{"jobId":"JOB","reason":"maintenance\\u0000"}`, 'reason: must not contain the NUL character'],
      ['JobService/ListJobs', '{"namePrefix":"a\\u0000"}', 'name_prefix: must not contain the NUL character'],
      ['JobService/ListJobs', '{"pageToken":"\\u0000"}', 'page_token: must not contain the NUL character'],
      ['EndpointService/UpdateEndpoint', `{"endpointId":"EP","spec":${ep(',"headers":{"Connection":"close"}').replace('"name":"e",', '')}}`, 'spec.headers["Connection"]: header "Connection" cannot be set'],
      ['EndpointService/PauseEndpoint', '{"endpointId":"EP","reason":"why\\u0000"}', 'reason: must not contain the NUL character'],
      ['EndpointService/TriggerEndpoint', '{"endpointId":"EP","reason":"\\u0000"}', 'reason: must not contain the NUL character'],
      ['EndpointService/PreviewSchedule', `{"spec":${ep(',"body":[-1e400]')}}`, 'spec.body[0]: must be a finite number, not -Infinity'],
      ['HintService/AddHint', '{"endpointId":"EP","kind":"HINT_KIND_INTERVAL","interval":"5m","reason":"r\\u0000"}', 'reason: must not contain the NUL character'],
      ['ApiKeyService/CreateApiKey', '{"name":"ops\\u0000","role":"ROLE_READ"}', 'name: must not contain the NUL character'],
    ];
    const before = await fingerprint();
    for (const [procedure, body, expected] of cases) {
      const answer = await post(procedure, body.replaceAll('JOB', jobId).replaceAll('EP', endpointId));
      expect(answer.code, `${procedure} ${body.slice(0, 120)}: ${answer.message}`).toBe('invalid_argument');
      expect(answer.message, procedure).toContain(expected);
    }
    expect(await fingerprint()).toEqual(before);
    expect(internalErrors(fx)).toEqual([]);
  });

  it('refuses NaN, Infinity and out-of-range times sent as protobuf (gRPC), which JSON cannot carry', async () => {
    const before = await fingerprint();
    const jobs = fx.client(JobService, fx.a.keys.write, 'grpc');
    const endpoints = fx.client(EndpointService, fx.a.keys.write, 'grpc');
    const refusal = async (call: Promise<unknown>) => {
      const error = await call.then(() => null, (caught: unknown) => caught);
      expect(error).toBeInstanceOf(ConnectError);
      expect((error as ConnectError).code).toBe(Code.InvalidArgument);
      return (error as ConnectError).rawMessage;
    };
    for (const value of [NaN, Infinity]) {
      const body = { kind: { case: 'structValue' as const, value: { fields: { n: { kind: { case: 'numberValue' as const, value } } } } } };
      expect(await refusal(jobs.createJob({ name: 'nan', endpoints: [spec('e', 'http://127.0.0.1:1/x', '1m', { method: 'POST', body })] }))).toContain(`endpoints[0].body.n: must be a finite number, not ${value}`);
    }
    const farFuture = { seconds: 10n ** 15n, nanos: 0 };
    expect(await refusal(endpoints.pauseEndpoint({ endpointId, reason: 'r', until: farFuture }))).toContain('until: must be a time from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z');
    expect(await refusal(jobs.pauseJob({ jobId, reason: 'r', until: { seconds: 1n, nanos: -1 } }))).toContain('until: must be a time from');
    expect(await fingerprint()).toEqual(before);
    expect(internalErrors(fx)).toEqual([]);
  });

  it('still takes what is fine: Latin-1 header values, large finite numbers as strings, emoji', async () => {
    const { job } = await fx.client(JobService, fx.a.keys.write).createJob({
      name: 'fine',
      endpoints: [spec('e', 'http://127.0.0.1:1/caf%C3%A9', '1h', { method: 'POST', headers: { 'X-Name': 'caf\u00e9' }, body: { kind: { case: 'stringValue', value: '12345678901234567890 \u{1F600}' } } })],
    });
    expect(job!.endpointCount).toBe(1);
  });
});
