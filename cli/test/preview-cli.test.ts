import { describe, expect, it, beforeAll } from 'vitest';
import { EndpointService, JobService } from '@tickwise/api';
import { internalErrors, useGateway } from '../../test/support/gateway.ts';
import { tableRows, tickwise } from './cli-process.ts';

describe('tickwise endpoints preview', () => {
  const fx = useGateway();
  const env = () => ({ TICKWISE_URL: fx.gateway.url, TICKWISE_API_KEY: fx.a.keys.read });
  const cli = (args: string[]) => tickwise(args, env());
  let nightlyId = '';

  beforeAll(async () => {
    const schedule = { kind: { case: 'cron' as const, value: { expression: '30 2 * * *', timezone: 'Europe/Paris' } } };
    await fx.client(JobService, fx.a.keys.write).createJob({ name: 'reports', endpoints: [{ name: 'nightly', url: 'http://127.0.0.1:1/x', schedule }] });
    nightlyId = (await fx.client(EndpointService, fx.a.keys.read).listEndpoints({})).endpoints[0]!.id;
  });

  it('shows the next runs in UTC and local time with a read key, marking the DST shift', async () => {
    const result = await cli(['endpoints', 'preview', 'reports/nightly', '--count', '3', '--from', '2026-03-27T12:00:00Z']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const [head, table] = result.stdout.split('\n\n');
    expect(head).toContain('schedule:  cron "30 2 * * *" (Europe/Paris): the baseline only');
    expect(head).toMatch(/planned: {3}\d{4}-.*, idle: baseline cron/);
    const rows = tableRows(table!);
    expect(rows[0]).toEqual(['#', 'UTC', 'LOCAL (Europe/Paris)', 'OFFSET', 'NOTE']);
    expect(rows.slice(1).map((row) => [row[1]!.split(' ')[0], row[2], row[3], row[4] ?? ''])).toEqual([
      ['2026-03-28T01:30:00Z', '2026-03-28 02:30:00', '+01:00', ''],
      ['2026-03-29T01:00:00Z', '2026-03-29 03:00:00', '+02:00 (DST shift from +01:00)', 'the clocks jumped from 02:00 to 03:00: a time the schedule names did not exist, so it runs once, right after the gap'],
      ['2026-03-30T00:30:00Z', '2026-03-30 02:30:00', '+02:00', ''],
    ]);
  });

  it('takes an id, defaults to 10 runs after now, and prints the API JSON with --json', async () => {
    const [byId, json] = await Promise.all([cli(['endpoints', 'preview', nightlyId]), cli(['endpoints', 'preview', 'reports/nightly', '--json', '--from', '2026-10-24T12:00:00+02:00', '--count', '2'])]);
    expect(byId.code, byId.stderr).toBe(0);
    expect(tableRows(byId.stdout.split('\n\n')[1]!)).toHaveLength(11);
    expect(json.code, json.stderr).toBe(0);
    const body = JSON.parse(json.stdout) as { timezone: string; from: string; runs: { at: string; localTime: string; note: string }[] };
    expect(body).toMatchObject({ timezone: 'Europe/Paris', from: '2026-10-24T10:00:00Z' });
    expect(body.runs.map((run) => [run.at, run.localTime])).toEqual([
      ['2026-10-25T00:30:00Z', '2026-10-25T02:30:00+02:00'],
      ['2026-10-26T01:30:00Z', '2026-10-26T02:30:00+01:00'],
    ]);
    expect(body.runs[0]!.note).toBe('02:30 occurs twice (the clocks go back): it runs once, at the first pass');
  });

  it('refuses a bad --count or --from with exit 2, naming the flag, before any call', async () => {
    const offline = { TICKWISE_URL: 'http://127.0.0.1:1', TICKWISE_API_KEY: fx.a.keys.read };
    const results = await Promise.all([
      tickwise(['endpoints', 'preview', 'reports/nightly', '--count', '0'], offline),
      tickwise(['endpoints', 'preview', 'reports/nightly', '--count', '101'], offline),
      tickwise(['endpoints', 'preview', 'reports/nightly', '--count', 'ten'], offline),
      tickwise(['endpoints', 'preview', 'reports/nightly', '--from', 'yesterday'], offline),
      tickwise(['endpoints', 'preview', 'reports/nightly', '--from', '2026-03-29T00:00:00'], offline),
      tickwise(['endpoints', 'get', 'reports/nightly', '--count', '3'], offline),
    ]);
    expect(results.map((result) => result.code)).toEqual([2, 2, 2, 2, 2, 2]);
    expect(results[0]!.stderr.trim()).toBe('error: --count must be a whole number from 1 to 100, got "0"');
    expect(results[1]!.stderr).toContain('--count must be a whole number from 1 to 100, got "101"');
    expect(results[2]!.stderr).toContain('--count must be');
    expect(results[3]!.stderr.trim()).toBe('error: --from must be an RFC 3339 time with its offset, such as 2026-03-29T00:00:00Z, got "yesterday"');
    expect(results[4]!.stderr).toContain('--from must be an RFC 3339 time with its offset');
    expect(results[5]!.stderr.trim()).toBe('error: --count does not apply to "tickwise endpoints get"');
    expect(internalErrors(fx)).toEqual([]);
  });

  it('says when the endpoint does not exist (exit 1)', async () => {
    const result = await cli(['endpoints', 'preview', 'reports/nope']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('not found: job "reports" has no endpoint');
  });
});
