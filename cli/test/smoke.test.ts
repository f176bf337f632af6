import { insertAnalyses, newId } from '@tickwise/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EndpointService, JobService, RunService } from '@tickwise/api';
import { spec, useGateway } from '../../test/support/gateway.ts';
import { startHttpTarget, type HttpTarget } from '../../test/support/http-target.ts';
import { freePort } from '../../test/support/ports.ts';
import { startNode } from '../../test/support/scheduler.ts';
import { waitFor } from '../../test/support/wait.ts';
import { tickwise } from './cli-process.ts';

describe('tickwise smoke', () => {
  const fx = useGateway();
  let target: HttpTarget;
  let node: ReturnType<typeof startNode>['node'];
  const ids: Record<string, string> = {};
  const smoke = (args: string[] = [], key = fx.a.keys.read) => tickwise(['smoke', ...args], { TICKWISE_URL: fx.gateway.url, TICKWISE_API_KEY: key });
  const analyse = (endpointId: string) =>
    insertAnalyses(fx.db.pool, [{ id: newId(), endpointId, planner: 'heuristic', trigger: 'periodic', inputs: {}, toolCalls: [], reasoning: 'no change', model: null, tokensIn: null, tokensOut: null, durationMs: 1, outcome: 'no_change', outcomeDetail: null, hintIds: [] }]);

  beforeAll(async () => {
    target = await startHttpTarget((call, response) => {
      response.statusCode = call.path.startsWith('/fail') ? 500 : 200;
      response.end('ok');
    });
    const jobs = fx.client(JobService, fx.a.keys.write);
    // Hourly interval endpoints: one run each, at once. "demo" is synthetic, as tickwise dev's is.
    await jobs.createJob({ name: 'demo', synthetic: true, endpoints: [spec('health', `${target.url}/health`, '1h'), spec('down', `${target.url}/fail`, '1h')] });
    await jobs.createJob({ name: 'old', endpoints: [spec('once', `${target.url}/once`, '1h')] });
    for (const endpoint of (await fx.client(EndpointService, fx.a.keys.read).listEndpoints({})).endpoints) ids[endpoint.name] = endpoint.id;
    node = startNode(fx.db).node;
    const runs = fx.client(RunService, fx.a.keys.read);
    await waitFor('a run of every endpoint', async () => (await Promise.all(Object.values(ids).map((endpointId) => runs.listRuns({ endpointId })))).every((page) => page.runs.length > 0));
    // "old" ran long ago, and so did the planner's look at it.
    await fx.db.pool.query(`UPDATE runs SET started_at = started_at - interval '10 minutes', finished_at = finished_at - interval '10 minutes' WHERE endpoint_id = $1`, [ids.once]);
  });
  afterAll(async () => {
    await node?.stop();
    await target?.close();
  });

  it('passes when the API answers, a synthetic endpoint succeeded lately and the planner analysed one', async () => {
    await analyse(ids.down!);
    const result = await smoke();
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe(`api            ok: ${fx.gateway.url} answered with the key`);
    expect(lines[1]).toMatch(/^synthetic run  ok: demo\/health succeeded (now|\d+s ago) \(HTTP 200, \d+ms\)$/);
    expect(lines[2]).toMatch(/^planner        ok: analysed demo\/down (now|\d+s ago) \(heuristic, periodic: no_change\)$/);
  });

  it('fails the run check when the endpoint never succeeded, with its latest run', async () => {
    const result = await smoke(['--endpoint', 'demo/down']);
    expect(result.code).toBe(1);
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^api +ok/);
    expect(lines[1]).toMatch(/^synthetic run  FAILED: no successful run of demo\/down in the last 2m \(never succeeded; latest run: demo\/down failed (now|\d+s ago) \(http_status: HTTP 500\)\)$/);
    expect(lines[2]).toMatch(/^planner +ok/);
    expect(result.stderr.trim()).toBe('smoke: 1 of 3 checks failed');
  });

  it('fails the run and planner checks when both are older than --within and --planner-within', async () => {
    const stale = await smoke(['--job', 'old']);
    expect(stale.code).toBe(1);
    const lines = stale.stdout.trim().split('\n');
    expect(lines[1]).toMatch(/^synthetic run  FAILED: no successful run of old\/once in the last 2m \(latest success: old\/once 1[01]m ago; latest run: old\/once succeeded 1[01]m ago\)$/);
    expect(lines[2]).toBe('planner        FAILED: no analysis of old/once in the last 10m (none ever: is "tickwise planner" running?)');

    await analyse(ids.once!);
    await fx.db.pool.query(`UPDATE analyses SET created_at = created_at - interval '20 minutes' WHERE endpoint_id = $1`, [ids.once]);
    const old = await smoke(['--job', 'old', '--within', '15m']);
    expect(old.stdout).toMatch(/^synthetic run  ok: old\/once succeeded 1[01]m ago/m);
    expect(old.stdout).toMatch(/^planner        FAILED: no analysis of old\/once in the last 10m \(latest: old\/once 2[01]m ago\)$/m);
    expect(old.code).toBe(1);
    const wider = await smoke(['--job', 'old', '--within', '15m', '--planner-within', '30m']);
    expect(wider.code, wider.stdout).toBe(0);
  });

  it('fails when the key sees no synthetic job, and when the named job does not exist', async () => {
    const none = await smoke([], fx.b.keys.read);
    expect(none.code).toBe(1);
    const reason = 'FAILED: no job marked synthetic is visible to this key ("tickwise dev" makes one, "demo"): name one with --job or --endpoint';
    expect(none.stdout.trim().split('\n').slice(1)).toEqual([`synthetic run  ${reason}`, `planner        ${reason}`]);
    const missing = await smoke(['--job', 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain(`synthetic run  FAILED: not found: no job named "nope" (for this API key's tenant)`);
  });

  it('fails the api check (and skips the rest) for a refused key and for an unreachable URL', async () => {
    const refused = await smoke([], `tw_0123456789ab_${'x'.repeat(43)}`);
    expect(refused.code).toBe(1);
    const lines = refused.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^api            FAILED: the API key was refused \(unauthenticated: /);
    expect(lines.slice(1)).toEqual(['synthetic run  FAILED: not checked: the API did not answer', 'planner        FAILED: not checked: the API did not answer']);
    expect(refused.stderr.trim()).toBe('smoke: 3 of 3 checks failed');

    const closed = `http://127.0.0.1:${await freePort()}`;
    const unreachable = await tickwise(['smoke'], { TICKWISE_URL: closed, TICKWISE_API_KEY: fx.a.keys.read });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stdout.split('\n')[0]).toMatch(new RegExp(`^api            FAILED: cannot reach TICKWISE_URL \\(${closed}\\): .*ECONNREFUSED`));
  });

  it('refuses bad options and missing settings with exit 2', async () => {
    const [within, both, noUrl] = await Promise.all([
      smoke(['--within', 'soon']),
      smoke(['--job', 'demo', '--endpoint', 'demo/health']),
      tickwise(['smoke'], { TICKWISE_API_KEY: fx.a.keys.read }),
    ]);
    expect([within.code, both.code, noUrl.code]).toEqual([2, 2, 2]);
    expect(within.stderr.trim()).toBe('error: --within must be a duration such as 30s, 2m or 1h, got "soon"');
    expect(both.stderr.trim()).toBe('error: give --job or --endpoint, not both');
    expect(noUrl.stderr).toContain('error: TICKWISE_URL is not set: "tickwise smoke" talks to the API');
  });
});
