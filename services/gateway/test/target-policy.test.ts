import { Code, ConnectError } from '@connectrpc/connect';
import { parseTargetPolicy } from '@tickwise/platform';
import { describe, expect, it } from 'vitest';
import { gatewayConfigFromEnv } from '../src/index.ts';
import { EndpointService, JobService } from '@tickwise/api';
import { spec, useGateway } from '../../../test/support/gateway.ts';

async function refusal(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error('expected the call to be refused');
}


describe('the target policy, applied when an endpoint is written', () => {
  const fx = useGateway({ targetPolicy: parseTargetPolicy({ allow: '*.example.com', deny: 'blocked.example.com' }) });
  const jobs = () => fx.client(JobService, fx.a.keys.write);
  const endpoints = () => fx.client(EndpointService, fx.a.keys.write);

  // An allow list of names only: a name outside it is refused when written (with a CIDR in the list,
  // names pass here and their resolved addresses are checked when the node connects).
  it('refuses a job whose endpoints call denied or unlisted targets, naming each field, and writes nothing', async () => {
    const error = await refusal(
      jobs().createJob({
        name: 'exfiltrate',
        endpoints: [
          spec('ok', 'https://api.example.com/ping'),
          spec('metadata', 'http://169.254.169.254/latest/meta-data/'),
          spec('denied', 'https://blocked.example.com/x'),
          spec('unlisted', 'https://elsewhere.org/x'),
        ],
      }),
    );
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toContain('endpoints[1].url: target denied: host 169.254.169.254 matches the built-in deny "169.254.169.254" (cloud metadata)');
    expect(error.rawMessage).toContain('endpoints[2].url: target denied: host blocked.example.com matches TICKWISE_DENY_TARGETS entry "blocked.example.com"');
    expect(error.rawMessage).toMatch(/endpoints\[3\]\.url: .*elsewhere\.org.*TICKWISE_ALLOW_TARGETS/);
    expect(error.rawMessage).not.toContain('endpoints[0]');
    expect((await jobs().listJobs({ namePrefix: 'exfiltrate' })).jobs).toEqual([]);
  });

  it('refuses to point an existing endpoint at a denied target, and keeps its old URL', async () => {
    const created = await jobs().createJob({ name: 'moves', endpoints: [spec('poll', 'https://poll.example.com/poll')] });
    const endpointId = (await endpoints().listEndpoints({ jobId: created.job!.id })).endpoints[0]!.id;
    const error = await refusal(endpoints().updateEndpoint({ endpointId, spec: spec('poll', 'http://[fd00:ec2::254]/latest') }));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toContain('spec.url: target denied');
    expect((await endpoints().getEndpoint({ endpointId })).endpoint?.spec?.url).toBe('https://poll.example.com/poll');
    const added = await refusal(endpoints().createEndpoint({ jobId: created.job!.id, endpoint: spec('meta', 'http://metadata.google.internal/computeMetadata/v1/') }));
    expect(added.rawMessage).toContain('endpoint.url: target denied: host metadata.google.internal');
  });

  it('reads the same TICKWISE_ALLOW_TARGETS / TICKWISE_DENY_TARGETS as the nodes, with their exact errors', () => {
    expect(gatewayConfigFromEnv({ TICKWISE_DENY_TARGETS: '10.0.0.0/8' }).targetPolicy.deny.map((rule) => rule.text)).toContain('10.0.0.0/8');
    expect(() => gatewayConfigFromEnv({ TICKWISE_ALLOW_TARGETS: 'http://x.example.com' })).toThrow(
      expect.objectContaining({ code: 'invalid_config', message: 'TICKWISE_ALLOW_TARGETS: entry "http://x.example.com" is a URL; give a host name, an IP address or a CIDR' }),
    );
  });
});
