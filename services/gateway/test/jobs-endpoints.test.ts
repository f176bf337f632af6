import { Code, ConnectError } from '@connectrpc/connect';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { describe, expect, it } from 'vitest';
import { EndpointService, JobService, MachineState } from '@tickwise/api';
import { internalErrors, spec, useGateway } from '../../../test/support/gateway.ts';

async function codeOf(promise: Promise<unknown>): Promise<{ code: Code; message: string }> {
  try {
    await promise;
  } catch (error) {
    const connect = ConnectError.from(error);
    return { code: connect.code, message: connect.rawMessage };
  }
  throw new Error('expected the call to fail');
}

describe('jobs and endpoints over the API', () => {
  const fx = useGateway();
  const jobs = () => fx.client(JobService, fx.a.keys.write);
  const endpoints = () => fx.client(EndpointService, fx.a.keys.write);

  it('creates a job with its endpoints, gets it, and refuses a second job of the same name', async () => {
    const created = await jobs().createJob({ name: 'orders', synthetic: true, endpoints: [spec('poll', 'http://127.0.0.1:1/poll', '30s'), spec('push', 'http://127.0.0.1:1/push', '5m', { method: 'POST', body: { kind: { case: 'structValue', value: { fields: { a: { kind: { case: 'numberValue', value: 1 } } } } } } })] });
    expect(created.job?.name).toBe('orders');
    expect(created.job?.synthetic).toBe(true);
    expect(created.job?.endpointCount).toBe(2);
    expect(created.changes.map((change) => `${change.endpoint || 'job'} ${change.action}`)).toEqual(['job created', 'poll created', 'push created']);
    const got = await jobs().getJob({ jobId: created.job!.id });
    expect(got.job?.id).toBe(created.job!.id);
    expect(await codeOf(jobs().createJob({ name: 'orders', endpoints: [] }))).toMatchObject({ code: Code.AlreadyExists, message: expect.stringContaining('job "orders" already exists') });
  });

  it('lets two tenants have a job of the same name', async () => {
    const other = fx.client(JobService, fx.b.keys.write);
    await other.createJob({ name: 'orders', endpoints: [] });
    const mine = await jobs().listJobs({});
    const theirs = await other.listJobs({});
    expect(mine.jobs.map((job) => job.name)).toContain('orders');
    expect(theirs.jobs.map((job) => job.name)).toEqual(['orders']);
    expect(theirs.jobs[0]!.id).not.toBe(mine.jobs.find((job) => job.name === 'orders')!.id);
  });

  it('lists jobs by name in pages, with a name prefix, and leaves archived ones out unless asked', async () => {
    for (const name of ['page-a', 'page-b', 'page-c', 'page-d', 'page-e']) await jobs().createJob({ name, endpoints: [] });
    const seen: string[] = [];
    let token = '';
    let pages = 0;
    do {
      const page = await jobs().listJobs({ pageSize: 2, pageToken: token, namePrefix: 'page-' });
      seen.push(...page.jobs.map((job) => job.name));
      token = page.nextPageToken;
      pages++;
    } while (token !== '');
    expect(seen).toEqual(['page-a', 'page-b', 'page-c', 'page-d', 'page-e']);
    expect(pages).toBe(3);
    const e = (await jobs().listJobs({ namePrefix: 'page-e' })).jobs[0]!;
    const archived = await jobs().archiveJob({ jobId: e.id });
    expect(archived.job?.archivedAt).toBeDefined();
    expect((await jobs().listJobs({ namePrefix: 'page-' })).jobs.map((job) => job.name)).toEqual(['page-a', 'page-b', 'page-c', 'page-d']);
    expect((await jobs().listJobs({ namePrefix: 'page-', includeArchived: true })).jobs).toHaveLength(5);
  });

  it('updates a job, and refuses to update an archived one', async () => {
    const { job } = await jobs().createJob({ name: 'flags', endpoints: [] });
    expect((await jobs().updateJob({ jobId: job!.id, synthetic: true })).job?.synthetic).toBe(true);
    expect((await jobs().updateJob({ jobId: job!.id })).job?.synthetic).toBe(true);
    await jobs().archiveJob({ jobId: job!.id });
    expect((await codeOf(jobs().updateJob({ jobId: job!.id, synthetic: false }))).code).toBe(Code.FailedPrecondition);
  });

  it('creates, gets, lists, updates and archives endpoints; an archived one is restored by creating it again', async () => {
    const { job } = await jobs().createJob({ name: 'inventory', endpoints: [] });
    const created = await endpoints().createEndpoint({ jobId: job!.id, endpoint: spec('stock', 'http://127.0.0.1:1/stock', '10m', { minInterval: '1m', jitter: '10%', headers: { 'X-Team': 'ops' } }) });
    expect(created.action).toBe('created');
    const endpoint = created.endpoint!;
    expect(endpoint.spec).toMatchObject({ name: 'stock', method: 'GET', minInterval: '1m', jitter: '10%', timeout: '10s', catchUp: 'skip', headers: { 'X-Team': 'ops' } });
    expect(endpoint.spec?.schedule?.kind).toEqual({ case: 'every', value: '10m' });
    expect(endpoint.state).toBe(MachineState.IDLE);
    expect(endpoint.nextRunAt).toBeDefined();
    expect((await codeOf(endpoints().createEndpoint({ jobId: job!.id, endpoint: spec('stock', 'http://127.0.0.1:1/x') }))).code).toBe(Code.AlreadyExists);

    const updated = await endpoints().updateEndpoint({ endpointId: endpoint.id, spec: spec('', 'http://127.0.0.1:1/stock', '20m') });
    expect(updated.action).toBe('updated');
    expect(updated.endpoint?.spec?.schedule?.kind).toEqual({ case: 'every', value: '20m' });
    expect(updated.endpoint!.version).toBeGreaterThan(endpoint.version);
    expect((await endpoints().updateEndpoint({ endpointId: endpoint.id, spec: spec('stock', 'http://127.0.0.1:1/stock', '20m') })).action).toBe('unchanged');
    expect(await codeOf(endpoints().updateEndpoint({ endpointId: endpoint.id, spec: spec('renamed', 'http://127.0.0.1:1/stock') }))).toMatchObject({ code: Code.InvalidArgument, message: expect.stringContaining('spec.name: renaming is not supported') });

    const archived = await endpoints().archiveEndpoint({ endpointId: endpoint.id });
    expect(archived.endpoint?.archivedAt).toBeDefined();
    expect((await endpoints().listEndpoints({ jobId: job!.id })).endpoints).toEqual([]);
    expect((await endpoints().listEndpoints({ jobId: job!.id, includeArchived: true })).endpoints).toHaveLength(1);
    expect((await codeOf(endpoints().updateEndpoint({ endpointId: endpoint.id, spec: spec('', 'http://127.0.0.1:1/stock') }))).code).toBe(Code.FailedPrecondition);
    const restored = await endpoints().createEndpoint({ jobId: job!.id, endpoint: spec('stock', 'http://127.0.0.1:1/stock', '15m') });
    expect(restored.action).toBe('restored');
    expect(restored.endpoint?.id).toBe(endpoint.id);
    expect(restored.endpoint?.archivedAt).toBeUndefined();
  });

  it('lists endpoints in pages with job, state and name filters', async () => {
    const { job } = await jobs().createJob({ name: 'fleet', endpoints: Array.from({ length: 7 }, (_, i) => spec(`car-${i}`, `http://127.0.0.1:1/${i}`)) });
    const names: string[] = [];
    let token = '';
    do {
      const page = await endpoints().listEndpoints({ jobId: job!.id, pageSize: 3, pageToken: token });
      names.push(...page.endpoints.map((each) => each.name));
      token = page.nextPageToken;
    } while (token);
    expect(names.sort()).toEqual(Array.from({ length: 7 }, (_, i) => `car-${i}`));
    const [first] = (await endpoints().listEndpoints({ jobId: job!.id, namePrefix: 'car-3' })).endpoints;
    expect(first?.name).toBe('car-3');
    await endpoints().pauseEndpoint({ endpointId: first!.id, reason: 'maintenance' });
    const paused = await endpoints().listEndpoints({ jobId: job!.id, states: [MachineState.PAUSED] });
    expect(paused.endpoints.map((each) => each.name)).toEqual(['car-3']);
    expect((await endpoints().listEndpoints({ jobId: job!.id, states: [MachineState.IDLE] })).endpoints).toHaveLength(6);
  });

  it('pauses with a reason and an end, resumes, and shows the pause', async () => {
    const { job } = await jobs().createJob({ name: 'pausing', endpoints: [spec('one', 'http://127.0.0.1:1/one')] });
    const [endpoint] = (await endpoints().listEndpoints({ jobId: job!.id })).endpoints;
    const until = new Date(Date.now() + 3_600_000);
    const paused = await endpoints().pauseEndpoint({ endpointId: endpoint!.id, reason: 'vendor outage', until: { seconds: BigInt(Math.floor(until.getTime() / 1000)), nanos: 0 } });
    expect(paused.endpoint?.state).toBe(MachineState.PAUSED);
    expect(paused.endpoint?.pause?.reason).toBe('vendor outage');
    expect(timestampDate(paused.endpoint!.pause!.until!).getTime()).toBe(Math.floor(until.getTime() / 1000) * 1000);
    expect(paused.endpoint?.reason).toContain('paused by a person: vendor outage');
    const resumed = await endpoints().resumeEndpoint({ endpointId: endpoint!.id });
    expect(resumed.endpoint?.state).toBe(MachineState.IDLE);
    expect(resumed.endpoint?.pause).toBeUndefined();

    const jobPause = await jobs().pauseJob({ jobId: job!.id, reason: 'freeze' });
    expect(jobPause.endpointIds).toEqual([endpoint!.id]);
    expect((await endpoints().getEndpoint({ endpointId: endpoint!.id })).endpoint?.state).toBe(MachineState.PAUSED);
    await jobs().resumeJob({ jobId: job!.id });
    expect((await endpoints().getEndpoint({ endpointId: endpoint!.id })).endpoint?.state).toBe(MachineState.IDLE);
    expect(await codeOf(endpoints().pauseEndpoint({ endpointId: endpoint!.id, reason: 'x', until: { seconds: 1n, nanos: 0 } }))).toMatchObject({ code: Code.InvalidArgument, message: expect.stringContaining('until: must be in the future') });
  });

  it('shows the machine: state, snapshot, transitions, the next run and why', async () => {
    const { job } = await jobs().createJob({ name: 'machines', endpoints: [spec('m', 'http://127.0.0.1:1/m', '1h')] });
    const [endpoint] = (await endpoints().listEndpoints({ jobId: job!.id })).endpoints;
    await endpoints().pauseEndpoint({ endpointId: endpoint!.id, reason: 'look' });
    const { machine } = await endpoints().getMachine({ endpointId: endpoint!.id });
    expect(machine?.state).toBe(MachineState.PAUSED);
    expect(machine?.source).toBe('user');
    expect(machine?.reason).toBe('paused by a person: look');
    expect(machine?.snapshot).toMatchObject({ schemaVersion: 1, value: 'paused' });
    expect(machine?.transitions.map((step) => step.event)).toEqual(expect.arrayContaining(['CREATE', 'PLANNED', 'REPLAN', 'PAUSED']));
    expect(machine?.pause?.reason).toBe('look');
    const limited = await endpoints().getMachine({ endpointId: endpoint!.id, transitionLimit: 1 });
    expect(new Set(limited.machine!.transitions.map((step) => step.seq)).size).toBe(1);
  });

  it('answers NOT_FOUND for ids that do not exist, and never INTERNAL', async () => {
    const missing = '01900000-0000-7000-8000-000000000000';
    expect((await codeOf(jobs().getJob({ jobId: missing }))).code).toBe(Code.NotFound);
    expect((await codeOf(endpoints().getEndpoint({ endpointId: missing }))).code).toBe(Code.NotFound);
    expect((await codeOf(endpoints().createEndpoint({ jobId: missing, endpoint: spec('x', 'http://127.0.0.1:1/') }))).code).toBe(Code.NotFound);
    expect((await codeOf(endpoints().triggerEndpoint({ endpointId: missing }))).code).toBe(Code.NotFound);
    expect(internalErrors(fx)).toEqual([]);
  });
});
