import { applyJobs } from '@tickwise/catalog';
import { endpointInputSchema } from '@tickwise/machines';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EndpointService, HintKind, HintService, JobService, MachineState, RunService } from '@tickwise/api';
import { internalErrors, spec, useGateway } from '../../test/support/gateway.ts';
import { startHttpTarget, type HttpTarget } from '../../test/support/http-target.ts';
import { freePort } from '../../test/support/ports.ts';
import { startNode, TEST_TARGET_POLICY } from '../../test/support/scheduler.ts';
import { waitFor } from '../../test/support/wait.ts';
import { tableRows, tickwise } from './cli-process.ts';

describe('the CLI over the API: endpoints, runs, hints', () => {
  const fx = useGateway();
  let target: HttpTarget;
  let node: ReturnType<typeof startNode>['node'];
  const ids: Record<string, string> = {};
  const env = (key = fx.a.keys.write) => ({ TICKWISE_URL: fx.gateway.url, TICKWISE_API_KEY: key });
  const cli = (args: string[], key?: string) => tickwise(args, env(key));
  const endpoints = () => fx.client(EndpointService, fx.a.keys.read);
  const runsOf = async (endpointId: string) => (await fx.client(RunService, fx.a.keys.read).listRuns({ endpointId })).runs;

  beforeAll(async () => {
    target = await startHttpTarget((call, response) => {
      response.statusCode = call.path.startsWith('/fail') ? 500 : 200;
      response.end(`answer to ${call.path}`);
    });
    const jobs = fx.client(JobService, fx.a.keys.write);
    // Interval endpoints run at once, then hourly: each has exactly one run to show.
    await jobs.createJob({ name: 'shop', endpoints: [spec('orders', `${target.url}/orders`, '1h'), spec('broken', `${target.url}/fail`, '1h')] });
    await jobs.createJob({ name: 'other', endpoints: [spec('ping', `${target.url}/ping`, '1h', { jitter: '10%' })] });
    for (const endpoint of (await endpoints().listEndpoints({})).endpoints) ids[endpoint.name] = endpoint.id;
    node = startNode(fx.db).node;
    await waitFor('the first runs', async () => (await Promise.all(Object.values(ids).map(runsOf))).every((runs) => runs.length > 0));
  });
  afterAll(async () => {
    await node?.stop();
    await target?.close();
  });

  it('lists endpoints as a table, with --job, --name and --state filters', async () => {
    const all = await cli(['endpoints', 'list']);
    expect(all.stderr).toBe('');
    expect(all.code).toBe(0);
    const rows = tableRows(all.stdout);
    expect(rows[0]).toEqual(['ENDPOINT', 'STATE', 'NEXT RUN', 'SCHEDULE', 'REASON']);
    expect(rows.slice(1).map((row) => row[0])).toEqual(['shop/orders', 'shop/broken', 'other/ping']);
    const orders = rows.find((row) => row[0] === 'shop/orders')!;
    expect(orders[1]).toBe('idle');
    expect(orders[2]).toMatch(/^in (59|60)m$/);
    expect(orders[3]).toBe('every 1h');
    expect(orders[4]).toMatch(/^baseline/);

    const [byJob, byName, paused] = await Promise.all([cli(['endpoints', 'list', '--job', 'other']), cli(['endpoints', 'list', '--name', 'bro']), cli(['endpoints', 'list', '--state', 'paused'])]);
    expect(tableRows(byJob.stdout).slice(1).map((row) => row[0])).toEqual(['other/ping']);
    expect(tableRows(byName.stdout).slice(1).map((row) => row[0])).toEqual(['shop/broken']);
    expect(paused.stdout.trim()).toBe('no endpoints match');
  });

  it('prints the API JSON of the listed endpoints with --json', async () => {
    const result = await cli(['endpoints', 'list', '--json']);
    expect(result.code).toBe(0);
    const listed = JSON.parse(result.stdout) as { endpoints: { id: string; name: string; state: string; spec: { schedule: { every: string } } }[] };
    expect(listed.endpoints.map((endpoint) => endpoint.id)).toEqual((await endpoints().listEndpoints({})).endpoints.map((endpoint) => endpoint.id));
    expect(listed.endpoints[0]).toMatchObject({ name: 'orders', state: 'MACHINE_STATE_IDLE', spec: { schedule: { every: '1h' } } });
  });

  it('follows the pages of the API past 500 endpoints, up to --limit', async () => {
    // Yearly cron endpoints in tenant B: none of them runs during the test.
    const many = Array.from({ length: 510 }, (_, index) => endpointInputSchema.parse({ name: `e${String(index).padStart(3, '0')}`, url: `${target.url}/many`, schedule: { cron: '0 0 1 1 *' } }));
    await applyJobs(fx.db.pool, [{ name: 'bulk', synthetic: false, endpoints: many }], { tenantId: fx.b.id, targetPolicy: TEST_TARGET_POLICY });
    const all = await cli(['endpoints', 'list', '--limit', '1000', '--json'], fx.b.keys.read);
    expect(all.code, all.stderr).toBe(0);
    expect((JSON.parse(all.stdout) as { endpoints: unknown[] }).endpoints).toHaveLength(510);
    const some = await cli(['endpoints', 'list', '--limit', '505'], fx.b.keys.read);
    expect(tableRows(some.stdout)).toHaveLength(506);
    expect(some.stderr).toContain('more endpoints match than --limit 505: showing the first 505');
  });

  it('gets one endpoint by job/name or by id: the spec, the machine and its transitions', async () => {
    const [byName, byId, json] = await Promise.all([cli(['endpoints', 'get', 'shop/broken']), cli(['endpoints', 'get', ids.broken!]), cli(['endpoints', 'get', 'shop/broken', '--json'])]);
    expect(byName.code, byName.stderr).toBe(0);
    expect(byName.stdout).toMatch(new RegExp(`^id: +${ids.broken}$`, 'm'));
    expect(byName.stdout).toMatch(/endpoint: +shop\/broken/);
    expect(byName.stdout).toMatch(new RegExp(`call: +GET ${target.url}/fail`));
    expect(byName.stdout).toMatch(/last outcome: +failed \(1 consecutive failure\)/);
    expect(byName.stdout).toContain('recent transitions (oldest first):');
    expect(byName.stdout).toMatch(/running → planning/);
    expect(byId.stdout.split('\n').slice(0, 5)).toEqual(byName.stdout.split('\n').slice(0, 5));
    const parsed = JSON.parse(json.stdout) as { endpoint: { id: string }; machine: { endpointId: string; lastOutcome: string; transitions: unknown[] } };
    expect(parsed.endpoint.id).toBe(ids.broken);
    expect(parsed.machine).toMatchObject({ endpointId: ids.broken, lastOutcome: 'failed' });
    expect(parsed.machine.transitions.length).toBeGreaterThan(0);
  });

  it('says what is wrong with an endpoint that cannot be found or named', async () => {
    const [noEndpoint, noJob, noId, badForm] = await Promise.all([
      cli(['endpoints', 'get', 'shop/nope']),
      cli(['runs', 'nope/orders']),
      cli(['hints', '0190a000-0000-7000-8000-000000000000']),
      cli(['endpoints', 'get', 'orders']),
    ]);
    expect([noEndpoint.code, noJob.code, noId.code, badForm.code]).toEqual([1, 1, 1, 2]);
    expect(noEndpoint.stderr.trim()).toBe('error: not found: job "shop" has no endpoint named "nope"');
    expect(noJob.stderr.trim()).toBe(`error: not found: no job named "nope" (for this API key's tenant)`);
    expect(noId.stderr.trim()).toBe('error: not found (not_found): endpoint 0190a000-0000-7000-8000-000000000000 does not exist');
    expect(badForm.stderr.trim()).toBe('error: "orders" is not an endpoint: give its id or <job>/<endpoint> (e.g. demo/health)');
    // Another tenant's endpoint reads as one that does not exist.
    const other = await cli(['endpoints', 'get', ids.orders!], fx.b.keys.read);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain('not_found');
  });

  it('pauses and resumes an endpoint; the API shows the pause, then none', async () => {
    const paused = await cli(['endpoints', 'pause', 'shop/orders', '--reason', 'deploy freeze']);
    expect(paused.code, paused.stderr).toBe(0);
    expect(paused.stdout.trim()).toBe('paused shop/orders until resumed: deploy freeze');
    const { endpoint } = await endpoints().getEndpoint({ endpointId: ids.orders! });
    expect(endpoint?.pause?.reason).toBe('deploy freeze');
    expect(endpoint?.state).toBe(MachineState.PAUSED);
    const listed = await cli(['endpoints', 'list', '--state', 'paused']);
    expect(tableRows(listed.stdout)[1]).toEqual(['shop/orders', 'paused', '-', 'every 1h', 'paused by a person: deploy freeze']);

    const resumed = await cli(['endpoints', 'resume', ids.orders!, '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ endpoint: { id: ids.orders, state: 'MACHINE_STATE_IDLE' } });
    expect((await endpoints().getEndpoint({ endpointId: ids.orders! })).endpoint?.pause).toBeUndefined();
  });

  it('pauses for a while with --for', async () => {
    const paused = await cli(['endpoints', 'pause', 'other/ping', '--for', '30m']);
    expect(paused.code, paused.stderr).toBe(0);
    expect(paused.stdout).toMatch(/^paused other\/ping until \S+Z \(in (29|30)m\): paused with the tickwise CLI$/m);
    expect((await endpoints().getEndpoint({ endpointId: ids.ping! })).endpoint?.pause?.until).toBeDefined();
    expect((await cli(['endpoints', 'resume', 'other/ping'])).code).toBe(0);
  });

  it('refuses a pause with a read key (permission_denied), and changes nothing', async () => {
    const result = await cli(['endpoints', 'pause', 'shop/orders'], fx.a.keys.read);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: the API key may not do this \(permission_denied: /);
    expect((await endpoints().getEndpoint({ endpointId: ids.orders! })).endpoint?.pause).toBeUndefined();
  });

  it('shows the field the API refused (invalid_argument), and changes nothing', async () => {
    const result = await cli(['endpoints', 'pause', 'shop/orders', '--reason', ' ']);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe('error: the API refused the request (invalid_argument): reason: is required');
    expect((await endpoints().getEndpoint({ endpointId: ids.orders! })).endpoint?.pause).toBeUndefined();
  });

  it('triggers a run now; the run and the manual hint show in runs and hints', async () => {
    const before = (await runsOf(ids.orders!)).length;
    const triggered = await cli(['endpoints', 'trigger', 'shop/orders', '--reason', 'after deploy']);
    expect(triggered.code, triggered.stderr).toBe(0);
    expect(triggered.stdout).toMatch(/^triggered shop\/orders: next run (now|in \d+s) \(hint \(manual\): run once at/);
    await waitFor('the triggered run', async () => (await runsOf(ids.orders!)).length > before);

    const runs = await cli(['runs', 'shop/orders']);
    expect(runs.code, runs.stderr).toBe(0);
    const rows = tableRows(runs.stdout);
    expect(rows[0]).toEqual(['STARTED', 'STATUS', 'HTTP', 'DURATION', 'SLOT', 'ATTEMPT', 'PLANNED BY', 'ERROR']);
    expect(rows).toHaveLength(before + 2);
    expect(rows[1]!.slice(1, 3)).toEqual(['succeeded', '200']);
    expect(rows[1]![6]).toBe('hint_run_at');
    expect(rows[2]![6]).toBe('first_run');

    const hints = await cli(['hints', 'shop/orders', '--all']);
    expect(hints.code, hints.stderr).toBe(0);
    const hintRows = tableRows(hints.stdout);
    expect(hintRows[0]).toEqual(['KIND', 'VALUE', 'SOURCE', 'STATUS', 'CREATED', 'EXPIRES', 'REASON']);
    expect(hintRows[1]).toMatchObject({ 0: 'run_at', 2: 'manual', 6: 'after deploy' });
    expect(hintRows[1]![1]).toMatch(/^run at \S+Z \((now|\d+s ago)\)$/);
  });

  it('prints failed runs with their error, --limit and --status, and --json', async () => {
    const failed = await cli(['runs', 'shop/broken', '--status', 'failed']);
    expect(failed.code, failed.stderr).toBe(0);
    const row = tableRows(failed.stdout)[1]!;
    expect(row.slice(1, 3)).toEqual(['failed', '500']);
    expect(row[7]).toBe('http_status: HTTP 500');
    const none = await cli(['runs', 'shop/broken', '--status', 'succeeded']);
    expect(none.stdout.trim()).toBe('no runs of shop/broken yet (succeeded)');
    const json = await cli(['runs', 'shop/orders', '--limit', '1', '--json']);
    const parsed = JSON.parse(json.stdout) as { runs: { endpointId: string; status: string; httpStatus: number }[] };
    expect(parsed.runs).toHaveLength(1);
    expect(parsed.runs[0]).toMatchObject({ endpointId: ids.orders, status: 'RUN_STATUS_SUCCEEDED', httpStatus: 200 });
  });

  it('lists active hints (past ones only with --all), and their JSON', async () => {
    const hints = fx.client(HintService, fx.a.keys.write);
    const added = await hints.addHint({ endpointId: ids.broken!, kind: HintKind.INTERVAL, interval: '2h', reason: 'calm down' });
    const cleared = await hints.addHint({ endpointId: ids.broken!, kind: HintKind.INTERVAL, interval: '3h', reason: 'gone' });
    await hints.clearHint({ endpointId: ids.broken!, hintId: cleared.hint!.id });
    const active = await cli(['hints', 'shop/broken']);
    expect(tableRows(active.stdout).slice(1)).toEqual([['interval', 'every 2h', 'manual', 'active', expect.stringMatching(/^(now|\d+s ago)$/), expect.stringMatching(/^in (59|60)m$/), 'calm down']]);
    const all = await cli(['hints', 'shop/broken', '--all']);
    expect(tableRows(all.stdout).slice(1).map((row) => [row[1], row[3]])).toEqual([
      ['every 3h', 'cleared'],
      ['every 2h', 'active'],
    ]);
    const json = JSON.parse((await cli(['hints', 'shop/broken', '--json'])).stdout) as { hints: { id: string; kind: string }[] };
    expect(json.hints).toEqual([expect.objectContaining({ id: added.hint!.id, kind: 'HINT_KIND_INTERVAL' })]);
    expect((await cli(['hints', 'other/ping'])).stdout.trim()).toBe('no active hints for other/ping');
  });

  it('refuses a wrong key (exit 1) and a malformed one (exit 2), never printing the key', async () => {
    const wrong = `tw_0123456789ab_${'x'.repeat(43)}`;
    const refused = await cli(['endpoints', 'list'], wrong);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toMatch(/^error: the API key was refused \(unauthenticated: .+\): check TICKWISE_API_KEY/);
    expect(refused.stderr).not.toContain(wrong);
    const malformed = await cli(['runs', 'shop/orders'], 'not-a-key');
    expect(malformed.code).toBe(2);
    expect(malformed.stderr.trim()).toBe('error: TICKWISE_API_KEY is not a Tickwise API key (tw_<12 hex digits>_<secret>, as "tickwise keys create" prints it)');
  });

  it('says when TICKWISE_URL cannot be reached, is missing or malformed', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const [unreachable, missing, noKey, malformed] = await Promise.all([
      tickwise(['endpoints', 'list'], { TICKWISE_URL: closed, TICKWISE_API_KEY: fx.a.keys.read }),
      tickwise(['hints', 'shop/orders'], { TICKWISE_API_KEY: fx.a.keys.read }),
      tickwise(['endpoints', 'get', 'shop/orders'], { TICKWISE_URL: fx.gateway.url }),
      tickwise(['endpoints', 'list'], { TICKWISE_URL: 'localhost:8080', TICKWISE_API_KEY: fx.a.keys.read }),
    ]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr.trim()).toMatch(new RegExp(`^error: cannot reach TICKWISE_URL \\(${closed}\\): .*ECONNREFUSED.* \\(unavailable\\)`));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('error: TICKWISE_URL is not set: "tickwise hints" talks to the API');
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain('error: TICKWISE_API_KEY is not set: "tickwise endpoints get" needs an API key');
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain('error: TICKWISE_URL must be an http:// or https:// URL such as http://127.0.0.1:8080');
  });

  it('refuses options and arguments a command does not take, before any call', async () => {
    const [option, extra, action, state, help] = await Promise.all([
      cli(['runs', 'shop/orders', '--all']),
      cli(['endpoints', 'resume', 'shop/orders', 'shop/broken']),
      cli(['endpoints', 'delete', 'shop/orders']),
      cli(['endpoints', 'list', '--state', 'sleeping']),
      tickwise(['endpoints', '--help']),
    ]);
    expect([option.code, extra.code, action.code, state.code, help.code]).toEqual([2, 2, 2, 2, 0]);
    expect(option.stderr.trim()).toBe('error: --all does not apply to "tickwise runs"');
    expect(extra.stderr.trim()).toBe('error: unexpected argument "shop/broken" for "tickwise endpoints resume"');
    expect(action.stderr.trim()).toBe('error: unknown action "delete" for "tickwise endpoints" (list, get, pause, resume, trigger, preview)');
    expect(state.stderr).toContain('--state must be one or more of idle, due, running, planning, paused');
    expect(help.stdout).toContain('tickwise endpoints: endpoints over the API');
    expect(internalErrors(fx)).toEqual([]);
  });
});
