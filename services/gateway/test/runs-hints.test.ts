import { timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError } from '@connectrpc/connect';
import { insertAnalyses, newId } from '@tickwise/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnalysisService, EndpointService, HintKind, HintService, JobService, MachineState, RunService, RunStatus } from '@tickwise/api';
import { startHttpTarget, type HttpTarget } from '../../../test/support/http-target.ts';
import { startNode } from '../../../test/support/scheduler.ts';
import { waitFor } from '../../../test/support/wait.ts';
import { internalErrors, spec, useGateway } from '../../../test/support/gateway.ts';

async function codeOf(promise: Promise<unknown>): Promise<Code> {
  try {
    await promise;
  } catch (error) {
    return ConnectError.from(error).code;
  }
  throw new Error('expected the call to fail');
}

describe('runs, trigger, hints and analyses over the API, with a scheduler node running', () => {
  const fx = useGateway();
  let target: HttpTarget;
  let node: ReturnType<typeof startNode>['node'];
  let endpointId = '';
  beforeAll(async () => {
    target = await startHttpTarget((call, response) => {
      response.statusCode = call.path.startsWith('/fail') ? 503 : 200;
      response.end(`answer to ${call.path}`);
    });
    node = startNode(fx.db).node;
    const { job } = await fx.client(JobService, fx.a.keys.write).createJob({ name: 'reports', endpoints: [spec('daily', `${target.url}/daily`, '1h')] });
    endpointId = (await fx.client(EndpointService, fx.a.keys.read).listEndpoints({ jobId: job!.id })).endpoints[0]!.id;
  });
  afterAll(async () => {
    await node?.stop();
    await target?.close();
  });

  const runs = () => fx.client(RunService, fx.a.keys.read);
  const hints = () => fx.client(HintService, fx.a.keys.write);
  const endpoints = () => fx.client(EndpointService, fx.a.keys.write);

  it('lists the runs of an endpoint and gets one with its captured response', async () => {
    // An interval endpoint's first run is immediate.
    const [run] = await waitFor('the first run', async () => {
      const listed = (await runs().listRuns({ endpointId })).runs;
      return listed.length > 0 ? listed : null;
    });
    expect(run?.status).toBe(RunStatus.SUCCEEDED);
    expect(run?.httpStatus).toBe(200);
    expect(run?.responseBody).toBeUndefined();
    const full = await runs().getRun({ runId: run!.id });
    expect(full.run?.responseBody).toBe('answer to /daily');
    expect(full.run?.endpointId).toBe(endpointId);
  });

  it('triggers a run now: a manual run_at hint, honoured at once; the schedule stays', async () => {
    const before = (await runs().listRuns({ endpointId })).runs.length;
    const triggered = await endpoints().triggerEndpoint({ endpointId, reason: 'check after deploy' });
    expect(triggered.hintId).not.toBe('');
    expect(triggered.reason).toContain('hint (manual): run once at');
    expect(Math.abs(timestampDate(triggered.nextRunAt!).getTime() - Date.now())).toBeLessThan(10_000);
    await waitFor('the triggered run', async () => (await runs().listRuns({ endpointId })).runs.length > before);
    const listed = await hints().listHints({ endpointId, includePast: true });
    expect(listed.hints.find((hint) => hint.id === triggered.hintId)).toMatchObject({ kind: HintKind.RUN_AT, source: 'manual', reason: 'check after deploy' });
    // Back on the hourly baseline after the one-shot run.
    const machine = await waitFor('the plan after the run', async () => {
      const { endpoint } = await endpoints().getEndpoint({ endpointId });
      return endpoint?.state === MachineState.IDLE && endpoint.reason.startsWith('baseline') ? endpoint : null;
    });
    expect(timestampDate(machine.nextRunAt!).getTime()).toBeGreaterThan(Date.now() + 30 * 60_000);
  });

  it('pages through runs newest first and filters them by status', async () => {
    for (let i = 0; i < 2; i++) {
      const count = (await runs().listRuns({ endpointId })).runs.length;
      await endpoints().triggerEndpoint({ endpointId });
      await waitFor('another run', async () => (await runs().listRuns({ endpointId })).runs.length > count);
    }
    const all = (await runs().listRuns({ endpointId })).runs.map((run) => run.id);
    expect(all.length).toBeGreaterThanOrEqual(4);
    expect([...all].sort().reverse()).toEqual(all);
    const first = await runs().listRuns({ endpointId, pageSize: 2 });
    const second = await runs().listRuns({ endpointId, pageSize: 2, pageToken: first.nextPageToken });
    expect([...first.runs, ...second.runs].map((run) => run.id)).toEqual(all.slice(0, 4));
    expect((await runs().listRuns({ endpointId, status: RunStatus.FAILED })).runs).toEqual([]);
    expect((await runs().listRuns({ endpointId, status: RunStatus.SUCCEEDED })).runs).toHaveLength(all.length);
  });

  it('lists the slots skipped in the time each page covers, once across pages', async () => {
    const all = (await runs().listRuns({ endpointId })).runs;
    const newest = timestampDate(all[0]!.startedAt!);
    const between = new Date((timestampDate(all[1]!.startedAt!).getTime() + timestampDate(all[2]!.startedAt!).getTime()) / 2);
    // Two history steps that skipped slots: one after the newest run, one between the second and third.
    for (const [seq, at, count] of [[1_098, new Date(newest.getTime() + 1), 3], [1_099, between, 1]] as const) {
      const step = { from: 'due', to: 'planning', event: 'SKIP', at: at.toISOString(), reason: `test skip of ${count}`, skipped: { count, why: 'catch_up' } };
      await fx.db.pool.query(`INSERT INTO endpoint_transitions (endpoint_id, ring_slot, seq, at, from_state, to_state, steps) VALUES ($1, $2, $3, $4, 'due', 'planning', $5)`, [endpointId, seq % 100, seq, at, JSON.stringify([step])]);
    }
    const first = await runs().listRuns({ endpointId, pageSize: 2 });
    const second = await runs().listRuns({ endpointId, pageSize: 2, pageToken: first.nextPageToken });
    expect(first.skipped.map((entry) => [entry.count, entry.why, entry.reason])).toEqual([[3, 'catch_up', 'test skip of 3']]);
    expect(second.skipped.map((entry) => entry.count)).toEqual([1]);
    expect(timestampDate(second.skipped[0]!.at!)).toEqual(between);
    expect(first.runs.every((run) => run.lastAttempt)).toBe(true);
    // The machine's history (what the visualizer's timeline draws) carries the counts too.
    const { machine } = await endpoints().getMachine({ endpointId, transitionLimit: 100 });
    expect(machine!.transitions.filter((step) => step.skippedCount > 0).map((step) => [step.skippedCount, step.skippedWhy])).toEqual(
      expect.arrayContaining([[3, 'catch_up'], [1, 'catch_up']]),
    );
  });

  it('refuses to trigger a paused endpoint (the person pause wins): FAILED_PRECONDITION', async () => {
    await endpoints().pauseEndpoint({ endpointId, reason: 'hold' });
    expect(await codeOf(endpoints().triggerEndpoint({ endpointId }))).toBe(Code.FailedPrecondition);
    await endpoints().resumeEndpoint({ endpointId });
  });

  it('adds a manual pause_until hint (the machine pauses), lists it, clears it (the machine plans again)', async () => {
    const until = new Date(Date.now() + 10 * 60_000);
    const added = await hints().addHint({ endpointId, kind: HintKind.PAUSE_UNTIL, at: timestampFromDate(until), reason: 'vendor maintenance' });
    expect(added.hint).toMatchObject({ kind: HintKind.PAUSE_UNTIL, source: 'manual', active: true, reason: 'vendor maintenance' });
    expect(added.state).toBe(MachineState.PAUSED);
    expect(added.reason).toContain('hint (manual): pause until');
    const active = await hints().listHints({ endpointId });
    expect(active.hints.map((hint) => hint.id)).toContain(added.hint!.id);
    const cleared = await hints().clearHint({ endpointId, hintId: added.hint!.id });
    expect(cleared.state).toBe(MachineState.IDLE);
    expect((await hints().listHints({ endpointId })).hints.map((hint) => hint.id)).not.toContain(added.hint!.id);
    const past = await hints().listHints({ endpointId, includePast: true });
    expect(past.hints.find((hint) => hint.id === added.hint!.id)).toMatchObject({ active: false });
    expect(await codeOf(hints().clearHint({ endpointId, hintId: added.hint!.id }))).toBe(Code.NotFound);
  });

  it('checks hints: the fields each kind needs, and at most 20 active manual hints per endpoint', async () => {
    expect(await codeOf(hints().addHint({ endpointId, kind: HintKind.INTERVAL, reason: 'r' }))).toBe(Code.InvalidArgument);
    expect(await codeOf(hints().addHint({ endpointId, kind: HintKind.RUN_AT, interval: '1m', reason: 'r' }))).toBe(Code.InvalidArgument);
    expect(await codeOf(hints().addHint({ endpointId, kind: HintKind.INTERVAL, interval: '2h', reason: 'r', expiresAt: timestampFromDate(new Date(Date.now() - 1000)) }))).toBe(Code.InvalidArgument);
    const active = (await hints().listHints({ endpointId })).hints.filter((hint) => hint.source === 'manual').length;
    for (let i = active; i < 20; i++) await hints().addHint({ endpointId, kind: HintKind.INTERVAL, interval: '2h', reason: `slow down ${i}` });
    expect(await codeOf(hints().addHint({ endpointId, kind: HintKind.INTERVAL, interval: '2h', reason: 'one too many' }))).toBe(Code.ResourceExhausted);
  });

  it('lists and gets analyses of an endpoint, newest first, in pages', async () => {
    const ids = [newId(), newId(), newId()];
    await insertAnalyses(
      fx.db.pool,
      ids.map((id, index) => ({ id, endpointId, planner: 'heuristic', trigger: 'failure_streak', inputs: { failures: index }, toolCalls: [{ name: 'look', index }], reasoning: null, model: null, tokensIn: null, tokensOut: null, durationMs: 1.5, outcome: 'no_change', outcomeDetail: null, hintIds: [] })),
    );
    const analyses = fx.client(AnalysisService, fx.a.keys.read);
    const first = await analyses.listAnalyses({ endpointId, pageSize: 2 });
    const second = await analyses.listAnalyses({ endpointId, pageSize: 2, pageToken: first.nextPageToken });
    expect([...first.analyses, ...second.analyses].map((analysis) => analysis.id)).toEqual([...ids].reverse());
    const got = await analyses.getAnalysis({ analysisId: ids[0]! });
    expect(got.analysis).toMatchObject({ planner: 'heuristic', trigger: 'failure_streak', outcome: 'no_change', durationMs: 1.5 });
    expect(got.analysis?.inputs?.kind).toEqual({ case: 'structValue', value: expect.anything() });
    expect(await codeOf(fx.client(AnalysisService, fx.b.keys.admin).getAnalysis({ analysisId: ids[0]! }))).toBe(Code.NotFound);
    expect(internalErrors(fx)).toEqual([]);
  });
});
