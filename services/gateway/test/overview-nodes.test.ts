import type { ServerResponse } from 'node:http';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError } from '@connectrpc/connect';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EndpointService, HintKind, HintService, JobService, MachineState, NodeService, OverviewService, Role, RunStatus } from '@tickwise/api';
import { parseTakeoverReason } from '../src/services/node-service.ts';
import { startHttpTarget, type HttpTarget } from '../../../test/support/http-target.ts';
import { startNode } from '../../../test/support/scheduler.ts';
import { waitFor } from '../../../test/support/wait.ts';
import { internalErrors, spec, useGateway } from '../../../test/support/gateway.ts';

async function failure(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error('expected the call to fail');
}

describe('OverviewService and NodeService: what the visualizer reads', () => {
  const fx = useGateway();
  let target: HttpTarget;
  let node: ReturnType<typeof startNode>['node'];
  const held: ServerResponse[] = [];
  let holding = false;
  let slowCalls = 0;
  const ids = { shop: '', other: '', orders: '', payments: '', ledger: '', hold: '', slow: '', secret: '', bJob: '' };

  beforeAll(async () => {
    target = await startHttpTarget((call, response) => {
      if (call.path.startsWith('/fail')) {
        response.statusCode = 500;
        return void response.end('boom');
      }
      if (call.path.startsWith('/hold') && holding) return void held.push(response);
      // The first triggered call of /slow outlasts its node's stalled lease (the takeover test).
      if (call.path.startsWith('/slow') && ++slowCalls === 2) return void setTimeout(() => response.end('late'), 1_500);
      response.end('ok');
    });
    node = startNode(fx.db, { workerId: 'node-a' }).node;
    const jobsA = fx.client(JobService, fx.a.keys.write);
    ids.shop = (await jobsA.createJob({ name: 'shop', endpoints: [spec('Orders-Poll', `${target.url}/orders`), spec('payments', `${target.url}/fail`), spec('hold', `${target.url}/hold`), spec('slow', `${target.url}/slow`, '1h', { timeout: '10s' })] })).job!.id;
    ids.other = (await jobsA.createJob({ name: 'other', endpoints: [spec('ledger', `${target.url}/ledger`)] })).job!.id;
    ids.bJob = (await fx.client(JobService, fx.b.keys.write).createJob({ name: 'b-job', endpoints: [spec('secret', `${target.url}/secret`)] })).job!.id;
    const listed = [...(await fx.client(EndpointService, fx.a.keys.read).listEndpoints({})).endpoints, ...(await fx.client(EndpointService, fx.b.keys.read).listEndpoints({})).endpoints];
    const idOf = (name: string) => listed.find((endpoint) => endpoint.name === name)!.id;
    Object.assign(ids, { orders: idOf('Orders-Poll'), payments: idOf('payments'), ledger: idOf('ledger'), hold: idOf('hold'), slow: idOf('slow'), secret: idOf('secret') });
    // Every first run (immediate for an interval) is over, and every machine is back on its plan.
    await waitFor('the first runs', () => target.calls.length >= 6);
    await waitFor('every machine idle', async () => {
      const { rows } = await fx.db.pool.query(`SELECT count(*)::int AS n FROM endpoints WHERE state <> 'idle'`);
      return rows[0].n === 0;
    });
  });
  afterAll(async () => {
    for (const response of held.splice(0)) response.end('released');
    await node?.stop();
    await target?.close();
  });

  const overview = (key: string) => fx.client(OverviewService, key);
  const nodes = (key: string) => fx.client(NodeService, key);

  it('WhoAmI names the key’s tenant and role, and refuses a bad key', async () => {
    for (const [role, value] of [['read', Role.READ], ['write', Role.WRITE], ['admin', Role.ADMIN]] as const) {
      const who = await overview(fx.a.keys[role]).whoAmI({});
      expect(who).toMatchObject({ tenantId: fx.a.id, tenantName: 'tenant-a', role: value, keyName: `${role}-key` });
      expect(fx.a.keys[role].startsWith(`tw_${who.keyPrefix}_`)).toBe(true);
    }
    expect((await overview(fx.b.keys.read).whoAmI({})).tenantName).toBe('tenant-b');
    const unknown = await failure(overview('tw_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA').whoAmI({}));
    expect(unknown.code).toBe(Code.Unauthenticated);
    expect((await failure(overview('not-a-key').whoAmI({}))).rawMessage).toBe('malformed API key (expected tw_<prefix>_<secret>)');
  });

  it('sums up every endpoint of the tenant: state, next run, last run, recent runs, and none of another tenant’s', async () => {
    const { summaries, totalSize, nextPageToken } = await overview(fx.a.keys.read).listEndpointSummaries({});
    expect(totalSize).toBe(5);
    expect(nextPageToken).toBe('');
    expect(summaries.map((summary) => summary.name)).toEqual(['Orders-Poll', 'payments', 'hold', 'slow', 'ledger']);
    const orders = summaries.find((summary) => summary.endpointId === ids.orders)!;
    expect(orders).toMatchObject({ jobId: ids.shop, jobName: 'shop', state: MachineState.IDLE, paused: false, archived: false, activeHints: 0, leaseOwner: '' });
    expect(orders.reason).toMatch(/^baseline/);
    expect(timestampDate(orders.nextRunAt!).getTime()).toBeGreaterThan(Date.now() + 30 * 60_000);
    expect(orders.lastRun).toMatchObject({ endpointId: ids.orders, status: RunStatus.SUCCEEDED, httpStatus: 200, worker: 'node-a' });
    expect(orders.recent).toHaveLength(1);
    expect(orders.recent[0]).toMatchObject({ runId: orders.lastRun!.id, status: RunStatus.SUCCEEDED, httpStatus: 200 });
    const payments = summaries.find((summary) => summary.endpointId === ids.payments)!;
    expect(payments.lastRun).toMatchObject({ status: RunStatus.FAILED, httpStatus: 500, errorKind: 'http_status' });
    const b = await overview(fx.b.keys.read).listEndpointSummaries({});
    expect(b.totalSize).toBe(1);
    expect(b.summaries.map((summary) => summary.endpointId)).toEqual([ids.secret]);
    // Another tenant's job id filters to nothing rather than showing its endpoints.
    expect((await overview(fx.b.keys.read).listEndpointSummaries({ jobId: ids.shop })).totalSize).toBe(0);
    expect(internalErrors(fx)).toEqual([]);
  });

  it('keeps the latest runs oldest first, as many as asked for, and counts active hints', async () => {
    const endpoints = fx.client(EndpointService, fx.a.keys.write);
    for (let i = 0; i < 2; i++) {
      const before = target.calls.filter((call) => call.path === '/orders').length;
      await endpoints.triggerEndpoint({ endpointId: ids.orders });
      await waitFor('the triggered run', async () => {
        const { summaries } = await overview(fx.a.keys.read).listEndpointSummaries({ nameContains: 'orders' });
        return target.calls.filter((call) => call.path === '/orders').length > before && summaries[0]!.recent.length === before + 1;
      });
    }
    const all = (await overview(fx.a.keys.read).listEndpointSummaries({ nameContains: 'orders' })).summaries[0]!;
    expect(all.recent).toHaveLength(3);
    const finished = all.recent.map((point) => timestampDate(point.finishedAt!).getTime());
    expect(finished).toEqual([...finished].sort((a, b) => a - b));
    expect(all.lastRun!.id).toBe(all.recent.at(-1)!.runId);
    const one = (await overview(fx.a.keys.read).listEndpointSummaries({ nameContains: 'orders', recentRuns: 1 })).summaries[0]!;
    expect(one.recent.map((point) => point.runId)).toEqual([all.lastRun!.id]);

    await fx.client(HintService, fx.a.keys.write).addHint({ endpointId: ids.payments, kind: HintKind.INTERVAL, interval: '2h', reason: 'calm down' });
    const payments = (await overview(fx.a.keys.read).listEndpointSummaries({ nameContains: 'payments' })).summaries[0]!;
    expect(payments.activeHints).toBe(1);
  });

  it('filters by job, state and part of the name (any case), and pages in creation order', async () => {
    const read = overview(fx.a.keys.read);
    expect((await read.listEndpointSummaries({ jobId: ids.other })).summaries.map((summary) => summary.name)).toEqual(['ledger']);
    expect((await read.listEndpointSummaries({ nameContains: 'ORDERS-p' })).summaries.map((summary) => summary.name)).toEqual(['Orders-Poll']);
    expect((await read.listEndpointSummaries({ nameContains: 'zzz' })).totalSize).toBe(0);
    await fx.client(EndpointService, fx.a.keys.write).pauseEndpoint({ endpointId: ids.ledger, reason: 'maintenance' });
    const paused = await waitFor('the ledger paused', async () => {
      const { summaries } = await read.listEndpointSummaries({ states: [MachineState.PAUSED] });
      return summaries.length === 1 ? summaries : null;
    });
    expect(paused[0]).toMatchObject({ endpointId: ids.ledger, paused: true, state: MachineState.PAUSED, reason: expect.stringContaining('maintenance') });
    expect((await read.listEndpointSummaries({ states: [MachineState.IDLE, MachineState.PAUSED] })).totalSize).toBe(5);

    const seen: string[] = [];
    let token = '';
    do {
      const page = await read.listEndpointSummaries({ pageSize: 2, pageToken: token });
      expect(page.totalSize).toBe(5);
      seen.push(...page.summaries.map((summary) => summary.endpointId));
      token = page.nextPageToken;
    } while (token !== '');
    expect(seen).toEqual([ids.orders, ids.payments, ids.hold, ids.slow, ids.ledger]);
    await fx.client(EndpointService, fx.a.keys.write).resumeEndpoint({ endpointId: ids.ledger });
  });

  it('names every wrong field of a summaries request at once', async () => {
    const error = await failure(overview(fx.a.keys.read).listEndpointSummaries({ jobId: 'nope', nameContains: 'a b%', recentRuns: 51, states: [42 as MachineState], pageToken: 'junk', pageSize: 501 }));
    expect(error.code).toBe(Code.InvalidArgument);
    for (const part of [
      'page_size: must be at most 500',
      'job_id: must be a UUID',
      'states[0]: is not a known value',
      'name_contains: may hold only letters, digits, ".", "_" and "-"',
      'recent_runs: must be at most 50',
    ]) {
      expect(error.rawMessage).toContain(part);
    }
    const token = await failure(overview(fx.a.keys.read).listEndpointSummaries({ pageToken: 'junk' }));
    expect(token.rawMessage).toBe('page_token: is not a page token this list returned');
    expect((await failure(overview(fx.a.keys.read).listEndpointSummaries({ recentRuns: -1 }))).rawMessage).toBe('recent_runs: must not be negative');
    expect((await failure(fx.client(OverviewService, null).listEndpointSummaries({}))).code).toBe(Code.Unauthenticated);
  });

  it('lists the leases a node holds on the tenant’s machines, and only those', async () => {
    holding = true;
    await fx.client(EndpointService, fx.a.keys.write).triggerEndpoint({ endpointId: ids.hold });
    await waitFor('the held call', () => held.length >= 1);
    const a = await nodes(fx.a.keys.read).listLeases({});
    const at = timestampDate(a.at!).getTime();
    const mine = a.nodes.find((each) => each.worker === 'node-a')!;
    expect(mine).toMatchObject({ leaseCount: 1, expiredLeaseCount: 0 });
    expect(mine.leases).toHaveLength(1);
    expect(mine.leases[0]).toMatchObject({ endpointId: ids.hold, jobId: ids.shop, name: 'hold', expired: false, attempt: 1 });
    expect([MachineState.DUE, MachineState.RUNNING]).toContain(mine.leases[0]!.state);
    expect(timestampDate(mine.leases[0]!.expiresAt!).getTime()).toBeGreaterThan(at);
    expect(mine.lastRuns).toBe(5);
    expect(timestampDate(mine.lastRunAt!).getTime()).toBeLessThanOrEqual(at);
    // Tenant B: the same node ran its endpoint, but B sees none of A's leases.
    const b = await nodes(fx.b.keys.read).listLeases({});
    expect(b.nodes).toEqual([expect.objectContaining({ worker: 'node-a', leaseCount: 0, leases: [], lastRuns: 1 })]);
    expect(JSON.stringify(b, (_key, value) => (typeof value === 'bigint' ? String(value) : value))).not.toContain(ids.hold);
    holding = false;
    for (const response of held.splice(0)) response.end('released');
    await waitFor('the lease handed back', async () => (await nodes(fx.a.keys.read).listLeases({})).nodes.every((each) => each.leaseCount === 0));
  });

  it('lists takeovers: who took which machine over from whom, for its own tenant only', async () => {
    await node.stop();
    // A node that stalls with its lease: a long lease it renews rarely, expired by hand as if it had run out.
    const slowpoke = startNode(fx.db, { workerId: 'slowpoke', leaseMs: 3_600_000 });
    let peer: ReturnType<typeof startNode> | undefined;
    try {
      await fx.client(EndpointService, fx.a.keys.write).triggerEndpoint({ endpointId: ids.slow });
      await waitFor('the slow call', () => slowCalls >= 2);
      await fx.db.pool.query(`UPDATE endpoints SET lease_expires_at = now() - interval '1 second' WHERE id = $1`, [ids.slow]);
      const expired = await nodes(fx.a.keys.read).listLeases({});
      expect(expired.nodes.find((each) => each.worker === 'slowpoke')).toMatchObject({ leaseCount: 1, expiredLeaseCount: 1, leases: [expect.objectContaining({ endpointId: ids.slow, expired: true })] });
      peer = startNode(fx.db, { workerId: 'peer', leaseMs: 2_000 });
      const listed = await waitFor('the takeover listed', async () => {
        const { takeovers } = await nodes(fx.a.keys.read).listLeases({ takeoverWindow: '1h' });
        return takeovers.length > 0 ? takeovers : null;
      });
      expect(listed[0]).toMatchObject({ endpointId: ids.slow, name: 'slow', worker: 'peer', previousWorker: 'slowpoke', attempt: 2, reason: 'lease of slowpoke expired; attempt 2' });
      expect((await nodes(fx.b.keys.read).listLeases({})).takeovers).toEqual([]);
      expect((await nodes(fx.a.keys.read).listLeases({ takeoverLimit: 1 })).takeovers).toHaveLength(1);
    } finally {
      await peer?.node.stop();
      await slowpoke.node.stop();
    }
    expect(internalErrors(fx)).toEqual([]);
  });

  it('names every wrong field of a leases request', async () => {
    const error = await failure(nodes(fx.a.keys.read).listLeases({ leasesPerNode: 501, takeoverLimit: -1, takeoverWindow: '3x' }));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.rawMessage).toBe('leases_per_node: must be at most 500; takeover_limit: must not be negative; takeover_window: invalid duration "3x" (use e.g. 30m, 24h)');
    expect((await failure(nodes(fx.a.keys.read).listLeases({ takeoverWindow: '8d' }))).rawMessage).toBe('takeover_window: must be from 1s to 7d');
    expect((await failure(nodes('tw_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA').listLeases({}))).code).toBe(Code.Unauthenticated);
  });

  it('reads a takeover’s words for the worker it took over from', () => {
    expect(parseTakeoverReason('lease of node-7 expired; attempt 3')).toEqual({ previousWorker: 'node-7', attempt: 3 });
    expect(parseTakeoverReason('lease of a node expired')).toEqual({ previousWorker: '', attempt: null });
    expect(parseTakeoverReason(null)).toEqual({ previousWorker: '', attempt: null });
  });
});
