import { Code, ConnectError } from '@connectrpc/connect';
import { timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
import { describe, expect, it } from 'vitest';
import { EndpointService, JobService, MachineState, type PreviewRun } from '@tickwise/api';
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

const cron = (name: string, expression: string, timezone: string) => ({ name, url: 'http://127.0.0.1:1/x', schedule: { kind: { case: 'cron' as const, value: { expression, timezone } } } });
const from = (iso: string) => timestampFromDate(new Date(iso));
const rows = (runs: PreviewRun[]) => runs.map((run) => [timestampDate(run.at!).toISOString(), run.localTime, run.utcOffset, run.offsetChanged, run.note]);

describe('EndpointService/PreviewSchedule', () => {
  const fx = useGateway();
  const reader = () => fx.client(EndpointService, fx.a.keys.read);
  let pollId = '';
  let nightlyId = '';

  it('previews a saved endpoint across the Paris spring change, with a read key, plus its planned next run', async () => {
    const { job } = await fx.client(JobService, fx.a.keys.write).createJob({ name: 'reports', endpoints: [cron('nightly', '30 2 * * *', 'Europe/Paris'), spec('poll', 'http://127.0.0.1:1/poll', '90s')] });
    const endpoints = (await reader().listEndpoints({ jobId: job!.id })).endpoints;
    nightlyId = endpoints.find((e) => e.name === 'nightly')!.id;
    pollId = endpoints.find((e) => e.name === 'poll')!.id;
    const preview = await reader().previewSchedule({ target: { case: 'endpointId', value: nightlyId }, count: 3, from: from('2026-03-27T12:00:00Z') });
    expect(preview).toMatchObject({ schedule: 'cron "30 2 * * *" (Europe/Paris)', timezone: 'Europe/Paris', state: MachineState.IDLE, nextRunReason: expect.stringContaining('baseline cron') });
    expect(timestampDate(preview.from!).toISOString()).toBe('2026-03-27T12:00:00.000Z');
    expect(preview.nextRunAt).toBeDefined();
    expect(rows(preview.runs)).toEqual([
      ['2026-03-28T01:30:00.000Z', '2026-03-28T02:30:00+01:00', '+01:00', false, ''],
      ['2026-03-29T01:00:00.000Z', '2026-03-29T03:00:00+02:00', '+02:00', true, 'the clocks jumped from 02:00 to 03:00: a time the schedule names did not exist, so it runs once, right after the gap'],
      ['2026-03-30T00:30:00.000Z', '2026-03-30T02:30:00+02:00', '+02:00', false, ''],
    ]);
  });

  it('previews an unsaved spec (no name needed): an hourly job runs in both passes of New York\'s repeated hour', async () => {
    const preview = await reader().previewSchedule({ target: { case: 'spec', value: cron('', '0 * * * *', 'America/New_York') }, count: 3, from: from('2026-11-01T04:30:00Z') });
    expect(preview.state).toBe(MachineState.UNSPECIFIED);
    expect(preview.nextRunAt).toBeUndefined();
    expect(rows(preview.runs).map((row) => row.slice(1, 4))).toEqual([
      ['2026-11-01T01:00:00-04:00', '-04:00', false],
      ['2026-11-01T01:00:00-05:00', '-05:00', true],
      ['2026-11-01T02:00:00-05:00', '-05:00', false],
    ]);
  });

  it('answers the JSON of docs/api.md\'s curl example', async () => {
    const response = await fetch(`${fx.gateway.url}/tickwise.v1.EndpointService/PreviewSchedule`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fx.a.keys.read}`, 'content-type': 'application/json' },
      body: JSON.stringify({ spec: { url: 'https://example.com', schedule: { cron: { expression: '30 2 * * *', timezone: 'Europe/Paris' } } }, count: 3, from: '2026-03-27T12:00:00Z' }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { runs: { at: string; localTime: string; offsetChanged?: boolean }[] };
    expect(body.runs.map((run) => [run.at, run.localTime, run.offsetChanged ?? false])).toEqual([
      ['2026-03-28T01:30:00Z', '2026-03-28T02:30:00+01:00', false],
      ['2026-03-29T01:00:00Z', '2026-03-29T03:00:00+02:00', true],
      ['2026-03-30T00:30:00Z', '2026-03-30T02:30:00+02:00', false],
    ]);
  });

  it('gives 10 runs after now by default; an interval in UTC, spaced from the endpoint\'s slots', async () => {
    const before = Date.now();
    const preview = await reader().previewSchedule({ target: { case: 'endpointId', value: pollId } });
    expect(preview).toMatchObject({ schedule: 'every 1m30s', timezone: 'UTC' });
    expect(preview.runs).toHaveLength(10);
    const times = preview.runs.map((run) => timestampDate(run.at!).getTime());
    expect(times[0]!).toBeGreaterThan(before);
    expect(times.slice(1).map((t, i) => t - times[i]!)).toEqual(Array(9).fill(90_000));
    expect(preview.runs.every((run) => run.utcOffset === '+00:00' && !run.offsetChanged)).toBe(true);
  });

  it('ends the preview at the last time a Timestamp can carry, instead of failing', async () => {
    const last = await reader().previewSchedule({ target: { case: 'spec', value: spec('', 'http://127.0.0.1:1/x', '90s') }, count: 5, from: from('9999-12-31T23:57:00Z') });
    expect(rows(last.runs).map(([at]) => at)).toEqual(['9999-12-31T23:58:30.000Z']);
    const none = await reader().previewSchedule({ target: { case: 'spec', value: cron('', '0 0 * * *', 'UTC') }, from: from('9999-12-31T23:59:59Z') });
    expect(none.runs).toEqual([]);
    expect(timestampDate(none.from!).toISOString()).toBe('9999-12-31T23:59:59.000Z');
  });

  it('refuses bad input naming the field, and another tenant\'s endpoint as NOT_FOUND', async () => {
    expect(await codeOf(reader().previewSchedule({ target: { case: 'endpointId', value: nightlyId }, count: 101 }))).toEqual({ code: Code.InvalidArgument, message: 'count: must be at most 100' });
    expect(await codeOf(reader().previewSchedule({ target: { case: 'endpointId', value: nightlyId }, count: -1 }))).toEqual({ code: Code.InvalidArgument, message: 'count: must not be negative' });
    expect(await codeOf(reader().previewSchedule({}))).toMatchObject({ code: Code.InvalidArgument, message: expect.stringMatching(/^endpoint_id: set endpoint_id/) });
    expect(await codeOf(reader().previewSchedule({ target: { case: 'endpointId', value: 'nope' } }))).toEqual({ code: Code.InvalidArgument, message: 'endpoint_id: must be a UUID' });
    const badSpec = await codeOf(reader().previewSchedule({ target: { case: 'spec', value: cron('', '61 * * * *', 'Mars/Olympus') } }));
    expect(badSpec.code).toBe(Code.InvalidArgument);
    expect(badSpec.message).toContain('spec.schedule.cron.timezone: unknown IANA time zone "Mars/Olympus"');
    expect(badSpec.message).toContain('spec.schedule.cron.expression: invalid cron expression "61 * * * *"');
    const other = fx.client(EndpointService, fx.b.keys.read);
    expect(await codeOf(other.previewSchedule({ target: { case: 'endpointId', value: nightlyId } }))).toMatchObject({ code: Code.NotFound });
    expect(await codeOf(reader().previewSchedule({ target: { case: 'endpointId', value: '00000000-0000-4000-8000-000000000000' } }))).toMatchObject({ code: Code.NotFound });
    expect(internalErrors(fx)).toEqual([]);
  });
});
