import { Code, ConnectError } from '@connectrpc/connect';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EndpointService, JobService, MachineState, RunStatus, type WatchRequest, type WatchResponse, WatchService } from '@tickwise/api';
import { startHttpTarget, type HttpTarget } from '../../../test/support/http-target.ts';
import { startNode } from '../../../test/support/scheduler.ts';
import { waitFor } from '../../../test/support/wait.ts';
import { internalErrors, spec, useGateway, type Protocol } from '../../../test/support/gateway.ts';

interface Watcher {
  events: WatchResponse['event'][];
  error: ConnectError | undefined;
  ended: boolean;
  stop(): void;
}

describe('Watch: machine changes and finished runs pushed as they happen', () => {
  const fx = useGateway({ heartbeatMs: 300, maxWatchersPerTenant: 6 });
  let target: HttpTarget;
  let node: ReturnType<typeof startNode>['node'];
  const ids = { jobA: '', jobB: '', one: '', two: '' };
  const opened: Watcher[] = [];
  // A failed test leaves no watch open behind it.
  afterEach(async () => {
    for (const watcher of opened.splice(0)) watcher.stop();
    await waitFor('every subscription released', () => fx.gateway.hub.size === 0);
  });

  function watch(key: string, request: Partial<Omit<WatchRequest, '$typeName'>>, protocol: Protocol = 'grpc'): Watcher {
    const controller = new AbortController();
    const watcher: Watcher = { events: [], error: undefined, ended: false, stop: () => controller.abort() };
    opened.push(watcher);
    void (async () => {
      try {
        for await (const message of fx.client(WatchService, key, protocol).watch(request, { signal: controller.signal })) watcher.events.push(message.event);
      } catch (error) {
        const connect = ConnectError.from(error);
        if (connect.code !== Code.Canceled) watcher.error = connect;
      } finally {
        watcher.ended = true;
      }
    })();
    return watcher;
  }
  const live = (watcher: Watcher) => waitFor('the first heartbeat', () => watcher.error ?? watcher.events.some((event) => event.case === 'heartbeat'));
  const runsOf = (watcher: Watcher, endpointId: string) => watcher.events.flatMap((event) => (event.case === 'run' && event.value.run?.endpointId === endpointId ? [event.value.run] : []));
  const machinesOf = (watcher: Watcher, endpointId: string) => watcher.events.flatMap((event) => (event.case === 'machine' && event.value.endpointId === endpointId ? [event.value] : []));

  beforeAll(async () => {
    // /slow answers after 1.5 s: long enough for the node to mark the call running (after 250 ms).
    target = await startHttpTarget((call, response) => (call.path === '/slow' ? void setTimeout(() => response.end('late'), 1_500) : response.end('ok')));
    node = startNode(fx.db).node;
    const jobs = fx.client(JobService, fx.a.keys.write);
    ids.jobA = (await jobs.createJob({ name: 'watched', endpoints: [spec('one', `${target.url}/one`, '1h')] })).job!.id;
    ids.jobB = (await jobs.createJob({ name: 'other', endpoints: [spec('two', `${target.url}/two`, '1h')] })).job!.id;
    const endpoints = (await fx.client(EndpointService, fx.a.keys.read).listEndpoints({})).endpoints;
    ids.one = endpoints.find((each) => each.name === 'one')!.id;
    ids.two = endpoints.find((each) => each.name === 'two')!.id;
    // Both first runs (immediate for an interval) are over before anyone watches.
    await waitFor('the first runs', () => target.calls.length >= 2);
    await waitFor('both machines idle again', async () => {
      const list = (await fx.client(EndpointService, fx.a.keys.read).listEndpoints({})).endpoints;
      return list.every((each) => each.state === MachineState.IDLE && each.reason.startsWith('baseline'));
    });
  });
  afterAll(async () => {
    await node?.stop();
    await target?.close();
  });

  for (const protocol of ['grpc', 'connect', 'grpc-web'] as const) {
    it(`pushes the run and the machine's moves of a triggered endpoint (${protocol})`, async () => {
      const watcher = watch(fx.a.keys.read, { endpointIds: [ids.one] }, protocol);
      await live(watcher);
      const before = runsOf(watcher, ids.one).length;
      await fx.client(EndpointService, fx.a.keys.write).triggerEndpoint({ endpointId: ids.one });
      const runs = await waitFor('the run event', () => (runsOf(watcher, ids.one).length > before ? runsOf(watcher, ids.one) : null));
      expect(runs.at(-1)).toMatchObject({ endpointId: ids.one, jobId: ids.jobA, status: RunStatus.SUCCEEDED, httpStatus: 200 });
      expect(runs.at(-1)?.responseBody).toBeUndefined();
      await waitFor('the machine back on its baseline', () => machinesOf(watcher, ids.one).some((change) => change.state === MachineState.IDLE && change.reason.startsWith('baseline')));
      expect(watcher.events.every((event) => event.case !== 'run' || event.value.run?.endpointId === ids.one)).toBe(true);
      watcher.stop();
    });
  }

  it('shows a slow call as running while it runs (marked in place, without a new version)', async () => {
    const job = await fx.client(JobService, fx.a.keys.write).createJob({ name: 'slow-job', endpoints: [spec('slow', `${target.url}/slow`, '1h')] });
    const slowId = (await fx.client(EndpointService, fx.a.keys.read).listEndpoints({ jobId: job.job!.id })).endpoints[0]!.id;
    const watcher = watch(fx.a.keys.read, { jobIds: [job.job!.id] });
    await live(watcher);
    await waitFor('the first, immediate run to finish', () => runsOf(watcher, slowId).length > 0 || machinesOf(watcher, slowId).some((change) => change.state === MachineState.IDLE && change.reason.startsWith('baseline')));
    const before = machinesOf(watcher, slowId).length;
    await fx.client(EndpointService, fx.a.keys.write).triggerEndpoint({ endpointId: slowId });
    await waitFor('the machine shown running', () => machinesOf(watcher, slowId).slice(before).some((change) => change.state === MachineState.RUNNING), 10_000);
    await waitFor('then its run', () => runsOf(watcher, slowId).some((run) => run.status === RunStatus.SUCCEEDED), 10_000);
    await fx.client(JobService, fx.a.keys.write).archiveJob({ jobId: job.job!.id });
    watcher.stop();
  });

  it('sends every matching machine first with include_current, then only changes; filters by job', async () => {
    const watcher = watch(fx.a.keys.read, { jobIds: [ids.jobB], includeCurrent: true });
    await waitFor('the current picture', () => machinesOf(watcher, ids.two).length > 0);
    expect(machinesOf(watcher, ids.two)[0]).toMatchObject({ current: true, state: MachineState.IDLE, name: 'two', jobId: ids.jobB });
    await fx.client(EndpointService, fx.a.keys.write).pauseEndpoint({ endpointId: ids.two, reason: 'watch me' });
    await fx.client(EndpointService, fx.a.keys.write).pauseEndpoint({ endpointId: ids.one, reason: 'not watched here' });
    const paused = await waitFor('the pause', () => machinesOf(watcher, ids.two).find((change) => change.state === MachineState.PAUSED));
    expect(paused).toMatchObject({ current: false, paused: true, previousState: MachineState.IDLE, reason: 'paused by a person: watch me' });
    await fx.client(EndpointService, fx.a.keys.write).resumeEndpoint({ endpointId: ids.two });
    await waitFor('the resume', () => machinesOf(watcher, ids.two).some((change) => change.previousState === MachineState.PAUSED && change.state === MachineState.IDLE));
    expect(machinesOf(watcher, ids.one)).toEqual([]);
    await fx.client(EndpointService, fx.a.keys.write).resumeEndpoint({ endpointId: ids.one });
    watcher.stop();
  });

  it('shows a tenant nothing of another tenant, and sends heartbeats while nothing happens', async () => {
    const watcher = watch(fx.b.keys.read, {});
    await live(watcher);
    await fx.client(EndpointService, fx.a.keys.write).triggerEndpoint({ endpointId: ids.two });
    await waitFor('a few heartbeats', () => watcher.events.filter((event) => event.case === 'heartbeat').length >= 4);
    expect(watcher.events.filter((event) => event.case !== 'heartbeat')).toEqual([]);
    watcher.stop();
  });

  it('serves many watches from one poller and one LISTEN connection, and lets go when clients leave', async () => {
    await waitFor('earlier watches closed', () => fx.gateway.hub.size === 0);
    const listeners = async () =>
      Number((await fx.db.pool.query<{ count: string }>("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'tickwise-listener'")).rows[0]!.count);
    // The scheduler node has a LISTEN connection of its own.
    const others = await listeners();
    const watchers = Array.from({ length: 5 }, (_, i) => watch(fx.a.keys.read, i % 2 ? { endpointIds: [ids.one] } : {}, i % 2 ? 'grpc' : 'connect'));
    for (const watcher of watchers) await live(watcher);
    expect(fx.gateway.hub.size).toBe(5);
    await waitFor('one listener for all watches', async () => (await listeners()) === others + 1);
    await fx.client(EndpointService, fx.a.keys.write).triggerEndpoint({ endpointId: ids.one });
    for (const watcher of watchers) await waitFor('the run on every watch', () => watcher.events.some((event) => event.case === 'run'));
    for (const watcher of watchers) watcher.stop();
    await waitFor('every subscription released', () => fx.gateway.hub.size === 0);
    await waitFor('the listener closed', async () => (await listeners()) === others);
  });

  it('reports an endpoint created while watching, and stays silent about machines that only come into scope', async () => {
    await waitFor('earlier watches closed', () => fx.gateway.hub.size === 0);
    const narrow = watch(fx.a.keys.read, { endpointIds: [ids.one] });
    await live(narrow);
    // A watcher of the whole tenant widens what the hub looks at: the machines it learns are not news.
    const wide = watch(fx.a.keys.read, {}, 'connect');
    await live(wide);
    const { endpoint } = await fx.client(EndpointService, fx.a.keys.write).createEndpoint({ jobId: ids.jobB, endpoint: spec('three', `${target.url}/three`, '1h') });
    const created = await waitFor('the new machine', () => machinesOf(wide, endpoint!.id)[0]);
    expect(created).toMatchObject({ previousState: MachineState.UNSPECIFIED, name: 'three', jobId: ids.jobB, current: false });
    await waitFor('its first run', () => runsOf(wide, endpoint!.id).length > 0);
    expect(machinesOf(wide, ids.one)).toEqual([]);
    expect(machinesOf(wide, ids.two)).toEqual([]);
    expect(narrow.events.filter((event) => event.case !== 'heartbeat')).toEqual([]);
    await fx.client(EndpointService, fx.a.keys.write).archiveEndpoint({ endpointId: endpoint!.id });
    await waitFor('the archive', () => machinesOf(wide, endpoint!.id).some((change) => change.archived));
    narrow.stop();
    wide.stop();
  });

  it('refuses unknown or foreign ids (NOT_FOUND), bad ids (INVALID_ARGUMENT), and watches past the limit (RESOURCE_EXHAUSTED)', async () => {
    const missing = watch(fx.a.keys.read, { endpointIds: ['01900000-0000-7000-8000-000000000000'] });
    await waitFor('the refusal', () => missing.ended);
    expect(missing.error?.code).toBe(Code.NotFound);
    const bad = watch(fx.a.keys.read, { jobIds: ['x'] }, 'connect');
    await waitFor('the refusal', () => bad.ended);
    expect(bad.error?.code).toBe(Code.InvalidArgument);
    expect(bad.error?.rawMessage).toBe('job_ids[0]: must be a UUID');
    const open = Array.from({ length: 6 }, () => watch(fx.a.keys.read, {}));
    for (const watcher of open) await live(watcher);
    const extra = watch(fx.a.keys.read, {});
    await waitFor('the refusal', () => extra.ended);
    expect(extra.error?.code).toBe(Code.ResourceExhausted);
    for (const watcher of open) watcher.stop();
    await waitFor('every subscription released', () => fx.gateway.hub.size === 0);
    expect(internalErrors(fx)).toEqual([]);
  });
});
