import { Code, ConnectError } from '@connectrpc/connect';
import { describe, expect, it } from 'vitest';
import { inTransaction, insertNotification, newId, recordDelivery, claimDeliveries } from '@tickwise/db';
import { parseTargetPolicy } from '@tickwise/platform';
import { EndpointService, JobService, NotificationService, NotificationStatus } from '@tickwise/api';
import { internalErrors, spec, useGateway } from '../../../test/support/gateway.ts';

// A job's notify targets through the API (CreateJob, ApplyJobs, UpdateJob, GetJob) and the
// tenant's notifications (ListNotifications): validated per field, under the target policy,
// never another tenant's.

async function refusal(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error('expected the call to be refused');
}

const webhook = (url: string, after = 0) => ({ target: { case: 'webhook' as const, value: url }, after });
const slack = (url: string, after = 0) => ({ target: { case: 'slack' as const, value: url }, after });

describe('notify targets of a job through the API', () => {
  const fx = useGateway({ targetPolicy: parseTargetPolicy({ deny: '10.0.0.0/8' }) });
  const jobs = (key = fx.a.keys.write) => fx.client(JobService, key);

  it('stores them with CreateJob and shows them in GetJob, after defaulting to 3', async () => {
    const created = await jobs().createJob({ name: 'orders', endpoints: [spec('poll', 'https://api.example.com/x')], notify: [webhook('https://ops.example.com/hook', 5), slack('https://hooks.slack.com/services/T/B/X')] });
    const { job } = await jobs(fx.a.keys.read).getJob({ jobId: created.job!.id });
    expect(job!.notify.map((target) => [target.target.case, target.target.value, target.after])).toEqual([
      ['webhook', 'https://ops.example.com/hook', 5],
      ['slack', 'https://hooks.slack.com/services/T/B/X', 3],
    ]);
  });

  it('refuses bad targets naming each field, and what the target policy denies', async () => {
    const error = await refusal(
      jobs().createJob({
        name: 'bad',
        endpoints: [spec('poll', 'https://api.example.com/x')],
        notify: [webhook('ftp://x.example.com/'), { target: { case: undefined }, after: 2 }, slack('https://a.example.com/', 20_000)],
      }),
    );
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toBe(
      [
        'notify[0].webhook: must be an absolute http:// or https:// URL',
        'notify[1]: must name one target: webhook: <url> or slack: <url>',
        'notify[2].after: must be at most 10000',
      ].join('; '),
    );
    const twice = await refusal(jobs().createJob({ name: 'twice', endpoints: [], notify: [webhook('https://ok.example.com/'), webhook('https://ok.example.com/')] }));
    expect(twice.rawMessage).toBe('notify[1].webhook: webhook "https://ok.example.com/" is also notify[0]');
    const denied = await refusal(jobs().createJob({ name: 'denied', endpoints: [], notify: [webhook('https://ok.example.com/'), slack('http://10.0.0.7/hook')] }));
    expect(denied.code).toBe(Code.InvalidArgument);
    expect(denied.rawMessage).toBe('notify[1].slack: target denied: host 10.0.0.7 matches TICKWISE_DENY_TARGETS entry "10.0.0.0/8"');
    expect((await jobs().listJobs({ namePrefix: 'denied' })).jobs).toEqual([]);
    expect(internalErrors(fx)).toEqual([]);
  });

  it('applies them with ApplyJobs (errors under jobs[i].notify) and changes or clears them with UpdateJob', async () => {
    const bad = await refusal(jobs().applyJobs({ jobs: [{ name: 'applied', endpoints: [], notify: [slack('nope')] }] }));
    expect(bad.rawMessage).toBe('jobs[0].notify[0].slack: must be an absolute http:// or https:// URL');
    const policy = await refusal(jobs().applyJobs({ jobs: [{ name: 'applied', endpoints: [], notify: [webhook('http://10.1.1.1/')] }] }));
    expect(policy.rawMessage).toContain('jobs[0].notify[0].webhook: target denied');
    const { changes } = await jobs().applyJobs({ jobs: [{ name: 'applied', endpoints: [], notify: [webhook('https://ops.example.com/a', 1)] }] });
    expect(changes).toEqual([expect.objectContaining({ job: 'applied', endpoint: '', action: 'created' })]);
    const id = (await jobs().listJobs({ namePrefix: 'applied' })).jobs[0]!.id;
    const updated = await jobs().updateJob({ jobId: id, notify: { targets: [slack('https://hooks.slack.com/x', 2)] } });
    expect(updated.job!.notify).toEqual([expect.objectContaining({ target: { case: 'slack', value: 'https://hooks.slack.com/x' }, after: 2 })]);
    // Unset leaves them; an empty list clears them.
    expect((await jobs().updateJob({ jobId: id, synthetic: true })).job!.notify).toHaveLength(1);
    expect((await jobs().updateJob({ jobId: id, notify: { targets: [] } })).job!.notify).toEqual([]);
    const badUpdate = await refusal(jobs().updateJob({ jobId: id, notify: { targets: [webhook('http://10.2.2.2/')] } }));
    expect(badUpdate.rawMessage).toContain('notify[0].webhook: target denied');
    expect((await refusal(jobs().updateJob({ jobId: id, notify: { targets: [webhook('x')] } }))).rawMessage).toBe('notify.targets[0].webhook: must be an absolute http:// or https:// URL');
  });
});

describe('ListNotifications', () => {
  const fx = useGateway();
  const list = (key: string, request: Record<string, unknown> = {}) => fx.client(NotificationService, key).listNotifications(request);

  /** A job with one endpoint of tenant `key`'s, and `count` paused notifications with one delivery each. */
  async function seed(key: string, name: string, count: number): Promise<{ jobId: string; endpointId: string; tenantId: string }> {
    const { job } = await fx.client(JobService, key).createJob({ name, endpoints: [spec('e', 'https://api.example.com/x')] });
    const endpoint = (await fx.client(EndpointService, key).listEndpoints({ jobId: job!.id })).endpoints[0]!;
    const tenantId = (await fx.db.pool.query('SELECT tenant_id FROM jobs WHERE id = $1', [job!.id])).rows[0].tenant_id;
    for (let index = 0; index < count; index++) {
      const id = newId();
      await inTransaction(fx.db.pool, (client) =>
        insertNotification(client, {
          id,
          tenantId,
          jobId: job!.id,
          endpointId: endpoint.id,
          kind: 'paused',
          dedupKey: `paused:${newId()}`,
          streakKey: null,
          threshold: null,
          payload: { summary: `${name}/e was paused by a person: #${index}` },
          targets: [{ channel: 'webhook', url: `https://hooks.example.com/${name}`, deliveryId: newId() }],
        }),
      );
    }
    return { jobId: job!.id, endpointId: endpoint.id, tenantId };
  }

  it('lists the tenant’s deliveries newest first with a read key, in pages, filtered', async () => {
    const first = await seed(fx.a.keys.write, 'first', 3);
    const second = await seed(fx.a.keys.write, 'second', 2);
    // One of the second job's deliveries was given up on after a 500.
    const [claimed] = await claimDeliveries(fx.db.pool, 'test', 1, 10_000);
    await recordDelivery(fx.db.pool, claimed!.id, 'test', { status: 'failed', httpStatus: 500, error: 'HTTP 500 (gave up after 1 attempt)' });
    const all = await list(fx.a.keys.read, { pageSize: 4 });
    expect(all.notifications.map((each) => each.summary)).toEqual(['second/e was paused by a person: #1', 'second/e was paused by a person: #0', 'first/e was paused by a person: #2', 'first/e was paused by a person: #1']);
    const rest = await list(fx.a.keys.read, { pageSize: 4, pageToken: all.nextPageToken });
    expect(rest.notifications.map((each) => each.summary)).toEqual(['first/e was paused by a person: #0']);
    expect(rest.nextPageToken).toBe('');
    expect((await list(fx.a.keys.read, { endpointId: second.endpointId })).notifications).toHaveLength(2);
    expect((await list(fx.a.keys.read, { jobId: first.jobId })).notifications).toHaveLength(3);
    const failed = (await list(fx.a.keys.read, { status: NotificationStatus.FAILED })).notifications;
    expect(failed).toEqual([expect.objectContaining({ id: claimed!.id, kind: 'paused', channel: 'webhook', status: NotificationStatus.FAILED, attempts: 1, lastHttpStatus: 500, lastError: 'HTTP 500 (gave up after 1 attempt)' })]);
    expect((await list(fx.a.keys.read, { status: NotificationStatus.PENDING })).notifications).toHaveLength(4);
    expect((await list(fx.a.keys.read, { status: NotificationStatus.PENDING })).notifications[0]!.nextAttemptAt).toBeDefined();
  });

  it('never shows another tenant’s, even by its ids', async () => {
    const theirs = await seed(fx.b.keys.write, 'theirs', 1);
    expect((await list(fx.b.keys.read)).notifications.map((each) => each.summary)).toEqual(['theirs/e was paused by a person: #0']);
    expect((await list(fx.a.keys.read, { endpointId: theirs.endpointId })).notifications).toEqual([]);
    expect((await list(fx.a.keys.read, { jobId: theirs.jobId })).notifications).toEqual([]);
    expect((await list(fx.a.keys.read)).notifications.some((each) => each.summary.startsWith('theirs'))).toBe(false);
  });

  it('refuses bad filters naming the field, and needs a key', async () => {
    const bad = await refusal(list(fx.a.keys.read, { endpointId: 'orders/poll', status: 9, pageSize: 501 }));
    expect(bad.code).toBe(Code.InvalidArgument);
    expect(bad.rawMessage).toBe('page_size: must be at most 500; endpoint_id: must be a UUID (or empty: no filter); status: is not a known value');
    expect((await refusal(list(fx.a.keys.read, { pageToken: 'nope' }))).rawMessage).toBe('page_token: is not a page token this list returned');
    expect((await refusal(fx.client(NotificationService, null).listNotifications({}))).code).toBe(Code.Unauthenticated);
    expect(internalErrors(fx)).toEqual([]);
  });
});
