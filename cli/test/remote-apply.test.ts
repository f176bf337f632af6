import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EndpointService, JobService } from '@tickwise/api';
import { QUOTAS } from '@tickwise/gateway';
import { internalErrors, spec, useGateway } from '../../test/support/gateway.ts';
import { tickwise } from './cli-process.ts';

const BILLING = `jobs:
  - name: billing
    endpoints:
      - name: invoices
        url: http://127.0.0.1:1/invoices
        schedule: { every: 30s }
      - name: reminders
        url: http://127.0.0.1:1/reminders
        method: POST
        body: { kind: reminder, days: [1, 7] }
        headers: { X-Team: billing }
        schedule: { cron: "0 * * * *", timezone: Europe/Paris }
        jitter: 10%
`;

// invoices slower, reminders dropped, refunds added, the job marked synthetic.
const BILLING_CHANGED = `jobs:
  - name: billing
    synthetic: true
    endpoints:
      - name: invoices
        url: http://127.0.0.1:1/invoices
        schedule: { every: 1m }
      - name: refunds
        url: http://127.0.0.1:1/refunds
        schedule: { every: 5m }
`;

// Line 12, column 18: a bad duration; the rest would be valid.
const INVALID = `jobs:
  - name: reports
    endpoints:
      - name: daily
        url: http://127.0.0.1:1/daily
        schedule: { every: 1h }
  - name: billing
    endpoints:
      - name: invoices
        url: http://127.0.0.1:1/invoices
        schedule:
          every: 5 minutes
`;

describe('tickwise apply through the API (TICKWISE_URL set)', () => {
  const fx = useGateway();
  let dir: string;
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const env = (key = fx.a.keys.write) => ({ TICKWISE_URL: fx.gateway.url, TICKWISE_API_KEY: key });

  /** Everything tenant A's API shows of its jobs and endpoints, archived ones included. */
  async function snapshot(key = fx.a.keys.read) {
    const jobs = (await fx.client(JobService, key).listJobs({ includeArchived: true })).jobs;
    const endpoints = (await fx.client(EndpointService, key).listEndpoints({ includeArchived: true, pageSize: 500 })).endpoints;
    return { jobs, endpoints };
  }

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tickwise-remote-apply-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates a job with its endpoints in the key tenant, then reports the same file as unchanged', async () => {
    const path = file('billing.yaml', BILLING);
    const created = await tickwise(['apply', '-f', path], env());
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(created.stdout.trim().split('\n')).toEqual(['job billing: created', 'endpoint billing/invoices: created', 'endpoint billing/reminders: created']);
    const { jobs, endpoints } = await snapshot();
    expect(jobs.map((job) => [job.name, job.synthetic, job.endpointCount])).toEqual([['billing', false, 2]]);
    const reminders = endpoints.find((endpoint) => endpoint.name === 'reminders')!;
    expect(reminders.spec).toMatchObject({ method: 'POST', headers: { 'X-Team': 'billing' }, jitter: '10%' });
    expect(reminders.spec?.schedule?.kind).toEqual({ case: 'cron', value: expect.objectContaining({ expression: '0 * * * *', timezone: 'Europe/Paris' }) });
    // Tenant B sees none of it.
    expect((await snapshot(fx.b.keys.read)).jobs).toEqual([]);

    const again = await tickwise(['apply', '-f', path], env());
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout.trim().split('\n')).toEqual(['endpoint billing/invoices: unchanged', 'endpoint billing/reminders: unchanged']);
  });

  it('shows the plan with --dry-run and changes nothing', async () => {
    const before = await snapshot();
    const result = await tickwise(['apply', '-f', file('changed-dry.yaml', BILLING_CHANGED), '--dry-run'], env());
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim().split('\n')).toEqual([
      'job billing: would be updated',
      'endpoint billing/invoices: would be updated',
      'endpoint billing/refunds: would be created',
      'endpoint billing/reminders: would be archived',
      `${join(dir, 'changed-dry.yaml')}: valid; nothing applied (--dry-run; the changes above are what ${fx.gateway.url} would make)`,
    ]);
    expect(await snapshot()).toEqual(before);
  });

  it('updates, creates and archives endpoints of an existing job, and restores an archived one', async () => {
    const changed = await tickwise(['apply', '-f', file('changed.yaml', BILLING_CHANGED)], env());
    expect(changed.code, changed.stderr).toBe(0);
    expect(changed.stdout.trim().split('\n')).toEqual([
      'job billing: updated',
      'endpoint billing/invoices: updated',
      'endpoint billing/refunds: created',
      'endpoint billing/reminders: archived',
    ]);
    const { jobs, endpoints } = await snapshot();
    expect(jobs[0]?.synthetic).toBe(true);
    const byName = new Map(endpoints.map((endpoint) => [endpoint.name, endpoint]));
    expect(byName.get('invoices')?.spec?.schedule?.kind).toEqual({ case: 'every', value: '1m' });
    expect(byName.get('reminders')?.archivedAt).toBeDefined();
    expect(byName.get('refunds')?.archivedAt).toBeUndefined();

    const restored = await tickwise(['apply', '-f', file('billing-again.yaml', BILLING)], env());
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout.trim().split('\n')).toEqual([
      'job billing: updated',
      'endpoint billing/invoices: updated',
      'endpoint billing/reminders: restored',
      'endpoint billing/refunds: archived',
    ]);
  });

  it('creates a job of more than 100 endpoints in one call', async () => {
    const endpoints = Array.from({ length: 101 }, (_, index) => `      - { name: e${index}, url: "http://127.0.0.1:1/e", schedule: { cron: "0 0 1 1 *" } }`);
    const result = await tickwise(['apply', '-f', file('big.yaml', `jobs:\n  - name: big\n    endpoints:\n${endpoints.join('\n')}\n`)], env());
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(102);
    expect(lines[0]).toBe('job big: created');
    expect(lines[101]).toBe('endpoint big/e100: created');
    const big = (await fx.client(JobService, fx.a.keys.read).listJobs({ namePrefix: 'big' })).jobs[0];
    expect(big?.endpointCount).toBe(101);
    // Archived again, so the snapshots of the tests below stay small.
    await fx.client(JobService, fx.a.keys.write).archiveJob({ jobId: big!.id });
  });

  it('refuses an invalid file with exit 2, its place and field, and changes nothing', async () => {
    const before = await snapshot();
    const path = file('invalid.yaml', INVALID);
    const result = await tickwise(['apply', '-f', path], env());
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`${path}:12:18: jobs[1].endpoints[0].schedule.every: invalid duration "5 minutes"`);
    expect(result.stderr).toContain('nothing changed');
    expect(await snapshot()).toEqual(before);
  });

  it('refuses a file past the API limits before calling it (the reader has the same limits), naming the place, and changes nothing', async () => {
    const before = await snapshot();
    const long = `jobs:\n  - name: reports\n    endpoints:\n      - name: daily\n        url: http://127.0.0.1:1/${'a'.repeat(2_100)}\n        schedule: { every: 1h }\n`;
    const path = file('long.yaml', long);
    const result = await tickwise(['apply', '-f', path], env());
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${path}:5:14: jobs[0].endpoints[0].url: must be at most 2048 characters`);
    expect(await snapshot()).toEqual(before);
  });

  it('with a read key: permission_denied, exit 1, nothing changed', async () => {
    const before = await snapshot();
    const path = file('read.yaml', BILLING_CHANGED);
    const result = await tickwise(['apply', '-f', path], env(fx.a.keys.read));
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toMatch(new RegExp(`^error: ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} was not applied \\(nothing changed\\): the API key may not do this \\(permission_denied: `));
    expect(await snapshot()).toEqual(before);
  });

  it('changes nothing when the API refuses part of the file (here: the tenant job quota)', async () => {
    // Tenant B: one job to update, then jobs up to one short of the quota, so of the two new jobs
    // in the file the first is created and the second refused.
    const jobs = fx.client(JobService, fx.b.keys.write);
    await jobs.createJob({ name: 'billing', endpoints: [spec('invoices', 'http://127.0.0.1:1/invoices', '30s')] });
    await fx.db.pool.query(
      `INSERT INTO jobs (id, tenant_id, name, synthetic) SELECT gen_random_uuid(), $1, 'filler-' || g, false FROM generate_series(1, $2) AS g`,
      [fx.b.id, QUOTAS.jobsPerTenant - 2],
    );
    const text = `jobs:
  - name: first
    endpoints:
      - { name: one, url: "http://127.0.0.1:1/one", schedule: { every: 1h } }
  - name: billing
    endpoints:
      - { name: invoices, url: "http://127.0.0.1:1/invoices", schedule: { every: 2m } }
  - name: second
    endpoints:
      - { name: two, url: "http://127.0.0.1:1/two", schedule: { every: 1h } }
`;
    const result = await tickwise(['apply', '-f', file('quota.yaml', text)], env(fx.b.keys.write));
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^error: .*quota\.yaml was not applied \(nothing changed\): the API answered resource_exhausted: a tenant may have at most 10000 jobs \(archived ones included\); this apply would make 10001/);

    const read = fx.client(JobService, fx.b.keys.read);
    const first = (await read.listJobs({ namePrefix: 'first', includeArchived: true })).jobs;
    expect(first).toEqual([]);
    expect((await read.listJobs({ namePrefix: 'second', includeArchived: true })).jobs).toEqual([]);
    const billing = (await read.listJobs({ namePrefix: 'billing' })).jobs[0]!;
    const [invoices] = (await fx.client(EndpointService, fx.b.keys.read).listEndpoints({ jobId: billing.id })).endpoints;
    expect(invoices?.spec?.schedule?.kind).toEqual({ case: 'every', value: '30s' });
    expect(internalErrors(fx)).toEqual([]);
  });
});
