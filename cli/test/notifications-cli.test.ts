import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimDeliveries, inTransaction, insertNotification, newId, recordDelivery } from '@tickwise/db';
import { EndpointService, JobService } from '@tickwise/api';
import { internalErrors, spec, useGateway } from '../../test/support/gateway.ts';
import { tableRows, tickwise } from './cli-process.ts';

// `tickwise notifications`, the notify targets in `tickwise endpoints get`, and apply refusing a
// notification URL the target policy denies, through the real CLI process.

describe('the CLI and notifications', () => {
  const fx = useGateway();
  const ids: Record<string, string> = {};
  const cli = (args: string[], key = fx.a.keys.read) => tickwise(args, { TICKWISE_URL: fx.gateway.url, TICKWISE_API_KEY: key });
  let dir: string;

  async function notify(endpoint: string, job: string, summary: string): Promise<void> {
    await inTransaction(fx.db.pool, (client) =>
      insertNotification(client, {
        id: newId(),
        tenantId: fx.a.id,
        jobId: ids[job]!,
        endpointId: ids[endpoint]!,
        kind: 'paused',
        dedupKey: `paused:${newId()}`,
        streakKey: null,
        threshold: null,
        payload: { summary },
        targets: [{ channel: 'webhook', url: 'https://ops.example.com/hook', deliveryId: newId() }],
      }),
    );
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tickwise-notify-cli-'));
    const jobs = fx.client(JobService, fx.a.keys.write);
    const shop = await jobs.createJob({
      name: 'shop',
      endpoints: [spec('orders', 'https://api.example.com/orders')],
      notify: [{ target: { case: 'webhook', value: 'https://ops.example.com/hook' }, after: 2 }, { target: { case: 'slack', value: 'https://hooks.slack.com/services/T/B/X' }, after: 0 }],
    });
    const other = await jobs.createJob({ name: 'other', endpoints: [spec('ping', 'https://api.example.com/ping')] });
    ids.shop = shop.job!.id;
    ids.other = other.job!.id;
    for (const endpoint of (await fx.client(EndpointService, fx.a.keys.read).listEndpoints({})).endpoints) ids[endpoint.name] = endpoint.id;
    await notify('orders', 'shop', 'shop/orders was paused by a person: deploy');
    await notify('ping', 'other', 'other/ping was paused by the breaker (pauseAfter): 5 failed slots');
    const [claimed] = await claimDeliveries(fx.db.pool, 'cli-test', 1, 10_000);
    await recordDelivery(fx.db.pool, claimed!.id, 'cli-test', { status: 'failed', httpStatus: 500, error: 'HTTP 500: down (gave up after 1 attempt)' });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lists notifications newest first with status, attempts and last error, filtered', async () => {
    const all = await cli(['notifications']);
    expect(all.stderr).toBe('');
    expect(all.code).toBe(0);
    const rows = tableRows(all.stdout);
    expect(rows[0]).toEqual(['CREATED', 'KIND', 'TARGET', 'STATUS', 'ATTEMPTS', 'LAST/NEXT', 'LAST ERROR', 'SUMMARY']);
    expect(rows.slice(1).map((row) => [row[1], row[2], row[3], row[4], row[7]])).toEqual([
      ['paused', 'webhook https://ops.example.com/hook', 'pending', '0', 'other/ping was paused by the breaker (pauseAfter): 5 failed slots'],
      ['paused', 'webhook https://ops.example.com/hook', 'failed', '1', 'shop/orders was paused by a person: deploy'],
    ]);
    expect(rows[2]![6]).toBe('HTTP 500: down (gave up after 1 attempt)');
    const [failed, byEndpoint, byJob, none] = await Promise.all([
      cli(['notifications', '--status', 'failed']),
      cli(['notifications', '--endpoint', 'other/ping']),
      cli(['notifications', '--job', 'shop', '--limit', '5']),
      cli(['notifications', '--status', 'sent']),
    ]);
    expect(tableRows(failed.stdout).slice(1).map((row) => row[7])).toEqual(['shop/orders was paused by a person: deploy']);
    expect(tableRows(byEndpoint.stdout).slice(1).map((row) => row[7])).toEqual(['other/ping was paused by the breaker (pauseAfter): 5 failed slots']);
    expect(tableRows(byJob.stdout).slice(1).map((row) => row[7])).toEqual(['shop/orders was paused by a person: deploy']);
    expect(none.stdout.trim()).toBe('no notifications match');
  });

  it('prints the API JSON with --json, and stops at --limit saying so', async () => {
    const json = await cli(['notifications', '--json', '--limit', '1']);
    expect(json.code).toBe(0);
    expect(json.stderr).toContain('more notifications match than --limit 1: showing the newest 1');
    const parsed = JSON.parse(json.stdout);
    expect(parsed.notifications).toEqual([expect.objectContaining({ kind: 'paused', channel: 'webhook', status: 'NOTIFICATION_STATUS_PENDING', endpointId: ids.ping })]);
  });

  it('refuses bad options with exit 2, before any call', async () => {
    const status = await cli(['notifications', '--status', 'lost']);
    expect(status.code).toBe(2);
    expect(status.stderr).toBe('error: --status must be pending, sent or failed, got "lost"\n');
    expect((await cli(['notifications', '--limit', '0'])).stderr).toContain('--limit must be a whole number from 1 to 10000');
    expect((await cli(['notifications', '--all'])).stderr).toContain('--all does not apply to "tickwise notifications"');
    expect((await cli(['notifications', 'extra'])).code).toBe(2);
  });

  it('shows the job’s notify targets in endpoints get', async () => {
    const result = await cli(['endpoints', 'get', 'shop/orders']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^notify: +webhook https:\/\/ops\.example\.com\/hook \(failing after 2 failed slots\); slack https:\/\/hooks\.slack\.com\/services\/T\/B\/X \(failing after 3 failed slots\)$/m);
    expect((await cli(['endpoints', 'get', 'other/ping'])).stdout).toMatch(/^notify: +nobody \(the job has no notify targets\)$/m);
  });

  it('apply refuses a notification URL the target policy denies, naming it, with exit 2 (database path) and 1 (API)', async () => {
    const file = join(dir, 'jobs.yaml');
    writeFileSync(file, 'jobs:\n  - name: denied\n    endpoints: []\n    notify:\n      - webhook: https://ok.example.com/\n      - slack: http://169.254.169.254/latest\n');
    const local = await tickwise(['apply', '-f', file], { DATABASE_URL: fx.db.url, TICKWISE_DENY_TARGETS: '10.0.0.0/8' });
    expect(local.code).toBe(2);
    expect(local.stderr).toContain(`${file}: jobs[0].notify[1].slack: target denied: host 169.254.169.254 matches the built-in deny "169.254.169.254" (cloud metadata)`);
    const remote = await cli(['apply', '-f', file], fx.a.keys.write);
    expect(remote.code).toBe(1);
    expect(remote.stderr).toContain('jobs[0].notify[1].slack: target denied: host 169.254.169.254');
    expect((await fx.db.pool.query("SELECT 1 FROM jobs WHERE name = 'denied'")).rows).toEqual([]);
    expect(internalErrors(fx)).toEqual([]);
  });
});
