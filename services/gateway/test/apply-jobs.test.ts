import { Code, ConnectError } from '@connectrpc/connect';
import { describe, expect, it } from 'vitest';
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

const lines = (changes: { job: string; endpoint: string; action: string }[]) => changes.map((change) => `${change.job}/${change.endpoint || '-'} ${change.action}`);

describe('ApplyJobs: a whole jobs file in one transaction', () => {
  const fx = useGateway();
  const jobs = () => fx.client(JobService, fx.a.keys.write);

  it('creates, then updates and archives by name, and a dry run reports the same changes without writing', async () => {
    const first = await jobs().applyJobs({
      jobs: [
        { name: 'billing', endpoints: [spec('invoices', 'http://127.0.0.1:1/invoices', '1h'), spec('reminders', 'http://127.0.0.1:1/reminders', '1h')] },
        { name: 'search', synthetic: true, endpoints: [spec('reindex', 'http://127.0.0.1:1/reindex', '1d')] },
      ],
    });
    expect(lines(first.changes)).toEqual(['billing/- created', 'billing/invoices created', 'billing/reminders created', 'search/- created', 'search/reindex created']);

    const next = { jobs: [{ name: 'billing', endpoints: [spec('invoices', 'http://127.0.0.1:1/invoices', '30m')] }] };
    const planned = await jobs().applyJobs({ ...next, dryRun: true });
    expect(lines(planned.changes)).toEqual(['billing/invoices updated', 'billing/reminders archived']);
    const billing = (await jobs().listJobs({ namePrefix: 'billing' })).jobs[0]!;
    const before = await fx.client(EndpointService, fx.a.keys.read).listEndpoints({ jobId: billing.id });
    expect(before.endpoints.map((endpoint) => `${endpoint.name} ${endpoint.spec?.schedule?.kind.value}`).sort()).toEqual(['invoices 1h', 'reminders 1h']);

    expect(lines((await jobs().applyJobs(next)).changes)).toEqual(lines(planned.changes));
    const after = await fx.client(EndpointService, fx.a.keys.read).listEndpoints({ jobId: billing.id });
    expect(after.endpoints.map((endpoint) => `${endpoint.name} ${endpoint.spec?.schedule?.kind.value}`)).toEqual(['invoices 30m']);
  });

  it('changes nothing when one job of the request is bad, and names every bad field', async () => {
    const error = await refusal(
      jobs().applyJobs({
        jobs: [
          { name: 'good', endpoints: [spec('ok', 'http://127.0.0.1:1/ok')] },
          { name: 'bad', endpoints: [spec('no-url', 'nope'), spec('worse', '')] },
          { name: 'good', endpoints: [] },
        ],
      }),
    );
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toContain('jobs[1].endpoints[0].url: must be an absolute http:// or https:// URL');
    expect(error.rawMessage).toContain('jobs[1].endpoints[1].url: must be an absolute http:// or https:// URL');
    expect(error.rawMessage).toContain('jobs[2].name: "good" is also the name of jobs[0]');
    expect((await jobs().listJobs({ namePrefix: 'good' })).jobs).toEqual([]);
    expect((await refusal(jobs().applyJobs({ jobs: [] }))).rawMessage).toContain('jobs: must list at least one job');
  });

  it('changes nothing when the target policy denies one endpoint, naming it (the catalog checks it when writing)', async () => {
    const error = await refusal(
      jobs().applyJobs({ jobs: [{ name: 'good', endpoints: [spec('ok', 'http://127.0.0.1:1/ok')] }, { name: 'bad', endpoints: [spec('fine', 'http://127.0.0.1:1/x'), spec('metadata', 'http://169.254.169.254/')] }] }),
    );
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toBe('jobs[1].endpoints[1].url: target denied: host 169.254.169.254 matches the built-in deny "169.254.169.254" (cloud metadata)');
    expect((await jobs().listJobs({ namePrefix: 'good' })).jobs).toEqual([]);
  });

  it('is refused to a read key and never touches another tenant, whatever names it sends', async () => {
    expect((await refusal(fx.client(JobService, fx.a.keys.read).applyJobs({ jobs: [{ name: 'x', endpoints: [] }] }))).code).toBe(Code.PermissionDenied);
    await fx.client(JobService, fx.b.keys.write).applyJobs({ jobs: [{ name: 'shared-name', endpoints: [spec('theirs', 'http://127.0.0.1:1/theirs')] }] });
    await jobs().applyJobs({ jobs: [{ name: 'shared-name', endpoints: [] }] });
    const theirs = (await fx.client(JobService, fx.b.keys.read).listJobs({ namePrefix: 'shared-name' })).jobs[0]!;
    expect(theirs.endpointCount).toBe(1);
  });
});
