import { Code, ConnectError } from '@connectrpc/connect';
import { describe, expect, it } from 'vitest';
import { EndpointService, JobService } from '@tickwise/api';
import { DEFAULT_TARGET_POLICY } from '@tickwise/platform';
import { internalErrors, spec, useGateway } from '../../../test/support/gateway.ts';
import { METADATA_CASES, metadataMessage, PRIVATE_CASES, privateMessage } from '../../../test/support/target-addresses.ts';
import { TEST_TARGET_POLICY } from '../../../test/support/targets.ts';
import { gatewayConfigFromEnv } from '../src/index.ts';

// The gateway with the policy it has when nothing is set: every private address, in every
// encoding, is refused on every call that writes a URL, naming the field; nothing is written.

async function refusal(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error('expected the call to be refused');
}

const urlOf = (spelling: string) => `http://${spelling}:9090/metrics`;
const webhook = (url: string) => ({ target: { case: 'webhook' as const, value: url }, after: 3 });
/** The cases ten at a time (a job has at most 10 notify targets). */
const CHUNKS = Array.from({ length: Math.ceil(PRIVATE_CASES.length / 10) }, (_, index) => PRIVATE_CASES.slice(index * 10, index * 10 + 10));

describe('private targets through the API (the default policy)', () => {
  const fx = useGateway({ targetPolicy: DEFAULT_TARGET_POLICY });
  const jobs = () => fx.client(JobService, fx.a.keys.write);
  const endpoints = () => fx.client(EndpointService, fx.a.keys.write);

  it('CreateJob refuses every encoding in endpoint URLs and notify targets, naming each field', async () => {
    const error = await refusal(jobs().createJob({ name: 'ssrf', endpoints: PRIVATE_CASES.map((item, index) => spec(`e${index}`, urlOf(item.spelling))), notify: CHUNKS[0]!.map((item) => webhook(urlOf(item.spelling))) }));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toBe(
      [...PRIVATE_CASES.map((item, index) => `endpoints[${index}].url: ${privateMessage(item)}`), ...CHUNKS[0]!.map((item, index) => `notify[${index}].webhook: ${privateMessage(item)}`)].join('; '),
    );
    expect((await jobs().listJobs({ namePrefix: 'ssrf' })).jobs).toEqual([]);
  });

  it('ApplyJobs refuses them (jobs[i].endpoints[j].url, jobs[i].notify[j].webhook) and writes nothing', async () => {
    const request = { jobs: CHUNKS.map((chunk, jobIndex) => ({ name: `applied-${jobIndex}`, endpoints: chunk.map((item, index) => spec(`e${index}`, urlOf(item.spelling))), notify: chunk.map((item) => webhook(urlOf(item.spelling))) })) };
    const error = await refusal(jobs().applyJobs(request));
    expect(error.code).toBe(Code.InvalidArgument);
    for (const [jobIndex, chunk] of CHUNKS.entries()) {
      chunk.forEach((item, index) => {
        expect(error.rawMessage).toContain(`jobs[${jobIndex}].endpoints[${index}].url: ${privateMessage(item)}`);
        expect(error.rawMessage).toContain(`jobs[${jobIndex}].notify[${index}].webhook: ${privateMessage(item)}`);
      });
    }
    expect((await jobs().listJobs({ namePrefix: 'applied' })).jobs).toEqual([]);
    expect(await refusal(jobs().applyJobs({ ...request, dryRun: true }))).toMatchObject({ code: Code.InvalidArgument });
  });

  it('CreateEndpoint, UpdateEndpoint and UpdateJob refuse each encoding, and keep what was there', async () => {
    const { job } = await jobs().createJob({ name: 'public', endpoints: [spec('poll', 'https://api.example.com/poll')] });
    const endpointId = (await endpoints().listEndpoints({ jobId: job!.id })).endpoints[0]!.id;
    for (const item of PRIVATE_CASES) {
      const url = urlOf(item.spelling);
      const added = await refusal(endpoints().createEndpoint({ jobId: job!.id, endpoint: spec('added', url) }));
      expect([added.code, added.rawMessage]).toEqual([Code.InvalidArgument, `endpoint.url: ${privateMessage(item)}`]);
      const moved = await refusal(endpoints().updateEndpoint({ endpointId, spec: spec('poll', url) }));
      expect([moved.code, moved.rawMessage]).toEqual([Code.InvalidArgument, `spec.url: ${privateMessage(item)}`]);
      const told = await refusal(jobs().updateJob({ jobId: job!.id, notify: { targets: [webhook(url)] } }));
      expect(told.code).toBe(Code.InvalidArgument);
      expect(told.rawMessage).toMatch(new RegExp(`notify(\\.targets)?\\[0\\]\\.webhook: ${privateMessage(item).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
    }
    expect((await endpoints().getEndpoint({ endpointId })).endpoint?.spec?.url).toBe('https://api.example.com/poll');
    expect((await endpoints().listEndpoints({ jobId: job!.id })).endpoints).toHaveLength(1);
    expect(internalErrors(fx)).toEqual([]);
  });

  it('reads TICKWISE_ALLOW_PRIVATE_TARGETS like the nodes: refused unless true', () => {
    expect(gatewayConfigFromEnv({}).targetPolicy).toBe(DEFAULT_TARGET_POLICY);
    expect(gatewayConfigFromEnv({ TICKWISE_ALLOW_PRIVATE_TARGETS: 'true' }).targetPolicy.allowPrivate).toBe(true);
    expect(() => gatewayConfigFromEnv({ TICKWISE_ALLOW_PRIVATE_TARGETS: '1' })).toThrow(expect.objectContaining({ code: 'invalid_config', message: 'TICKWISE_ALLOW_PRIVATE_TARGETS must be true or false, got "1"' }));
  });
});

describe('private targets through the API with TICKWISE_ALLOW_PRIVATE_TARGETS=true', () => {
  const fx = useGateway({ targetPolicy: TEST_TARGET_POLICY });
  const jobs = () => fx.client(JobService, fx.a.keys.write);

  it('writes them, and still refuses cloud metadata in every encoding', async () => {
    const created = await jobs().createJob({ name: 'internal', endpoints: PRIVATE_CASES.map((item, index) => spec(`e${index}`, urlOf(item.spelling))), notify: CHUNKS[0]!.map((item) => webhook(urlOf(item.spelling))) });
    expect(created.changes.filter((change) => change.endpoint !== '')).toHaveLength(PRIVATE_CASES.length);
    const error = await refusal(jobs().createJob({ name: 'metadata', endpoints: METADATA_CASES.map((item, index) => spec(`m${index}`, `http://${item.spelling}/latest/`)) }));
    expect(error.rawMessage).toBe(METADATA_CASES.map((item, index) => `endpoints[${index}].url: ${metadataMessage(item)}`).join('; '));
  });
});
