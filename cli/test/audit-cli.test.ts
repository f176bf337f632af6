import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobService } from '@tickwise/api';
import { DEFAULT_TENANT_ID } from '@tickwise/db';
import { internalErrors, useGateway } from '../../test/support/gateway.ts';
import { tableRows, tickwise } from './cli-process.ts';

// The CLI's changes in the audit trail: `apply` on the database (in its own transaction) and through
// the API, `keys create` and `keys revoke`; and `tickwise audit` to read the trail back.

const BILLING = `jobs:
  - name: billing
    endpoints:
      - { name: invoices, url: "http://127.0.0.1:1/invoices?token=hunter2", schedule: { every: 1h }, headers: { Authorization: "Bearer hunter2" } }
`;

describe('the audit trail of the CLI', () => {
  const fx = useGateway();
  let dir: string;
  let defaultAdmin: string;
  const user = `cli (database) as ${userInfo().username}`;
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const database = () => ({ DATABASE_URL: fx.db.url });
  const api = (key: string) => ({ TICKWISE_URL: fx.gateway.url, TICKWISE_API_KEY: key });
  const events = async (tenantId: string) => (await fx.db.pool.query('SELECT actor, actor_key_id, via, action, target, summary FROM audit_events WHERE tenant_id = $1 ORDER BY id', [tenantId])).rows;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tickwise-audit-cli-'));
    const made = await tickwise(['keys', 'create', '--role', 'admin', '--name', 'ops'], database());
    expect(made.code, made.stderr).toBe(0);
    defaultAdmin = made.stdout.trim();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('records apply and keys on the database with the OS user, in the change\'s transaction, and nothing for a refused apply', async () => {
    const path = file('billing.yaml', BILLING);
    expect((await tickwise(['apply', '-f', path], database())).code).toBe(0);
    expect((await tickwise(['apply', '-f', path], { ...database(), TICKWISE_DENY_TARGETS: '127.0.0.0/8' })).code).toBe(2);
    expect((await tickwise(['apply', '-f', path, '--dry-run'], database())).code).toBe(0);
    const ci = await tickwise(['keys', 'create', '--role', 'read', '--name', 'ci'], database());
    const ciId = (await fx.db.pool.query<{ id: string }>("SELECT id FROM api_keys WHERE name = 'ci'")).rows[0]!.id;
    expect((await tickwise(['keys', 'revoke', ciId], database())).code).toBe(0);

    const rows = await events(DEFAULT_TENANT_ID);
    expect(rows.map((row) => [row.actor, row.actor_key_id, row.via, row.action, row.target])).toEqual([
      [user, null, 'cli', 'keys create', 'key ops'],
      [user, null, 'cli', 'apply', 'jobs billing'],
      [user, null, 'cli', 'keys create', 'key ci'],
      [user, null, 'cli', 'keys revoke', 'key ci'],
    ]);
    expect(rows[1].summary).toEqual({ changes: [{ job: 'billing', action: 'created' }, { job: 'billing', endpoint: 'invoices', action: 'created' }], unchanged: 0 });
    expect(rows[2].summary).toMatchObject({ role: 'read' });
    expect(JSON.stringify(rows)).not.toContain(ci.stdout.trim());
    expect(JSON.stringify(rows)).not.toContain('hunter2');
  });

  it('records an apply through the API with the key, and lists the trail as a table and as JSON', async () => {
    const changed = BILLING.replace('every: 1h', 'every: 2h');
    expect((await tickwise(['apply', '-f', file('changed.yaml', changed)], api(defaultAdmin))).code).toBe(0);

    const table = await tickwise(['audit'], api(defaultAdmin));
    expect(table.code, table.stderr).toBe(0);
    const rows = tableRows(table.stdout);
    expect(rows[0]).toEqual(['WHEN', 'WHO', 'WHAT', 'TARGET', 'CHANGE']);
    expect(rows.slice(1).map((row) => row.slice(1, 4))).toEqual([
      ['ops', 'ApplyJobs', 'jobs billing'],
      [user, 'keys revoke', 'key ci'],
      [user, 'keys create', 'key ci'],
      [user, 'apply', 'jobs billing'],
      [user, 'keys create', 'key ops'],
    ]);
    expect(rows[1]![4]).toContain('"action":"updated"');

    const json = await tickwise(['audit', '--json', '--since', '1h'], api(defaultAdmin));
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as { events: { actor: string; via: string; action: string; actorKeyId?: string }[] };
    expect(parsed.events[0]).toMatchObject({ actor: 'ops', via: 'api', action: 'tickwise.v1.JobService/ApplyJobs', actorKeyId: expect.any(String) });
    expect(parsed.events).toHaveLength(5);

    const later = await tickwise(['audit', '--since', new Date(Date.now() + 60_000).toISOString()], api(defaultAdmin));
    expect(later.stdout.trim()).toBe('no changes recorded since then');
  });

  it('shows each tenant its own changes only, needs an admin key, and refuses a bad --since', async () => {
    await fx.client(JobService, fx.a.keys.write).createJob({ name: 'of-a' });
    const ofA = await tickwise(['audit', '--json'], api(fx.a.keys.admin));
    expect((JSON.parse(ofA.stdout) as { events: { target: string }[] }).events.map((event) => event.target)).toEqual(['job of-a']);
    const write = await tickwise(['audit'], api(fx.a.keys.write));
    expect(write.code).toBe(1);
    expect(write.stderr).toContain('permission_denied');
    const bad = await tickwise(['audit', '--since', 'yesterday'], api(fx.a.keys.admin));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--since must be a duration such as 30m or 1h, or an RFC 3339 time');
    expect(internalErrors(fx)).toEqual([]);
  });
});
