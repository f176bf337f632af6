import { describe, expect, it } from 'vitest';
import { applyJobs } from '@tickwise/catalog';
import { insertTenant, newId } from '@tickwise/db';
import { endpointInputSchema } from '@tickwise/machines';
import { startNode, useDatabaseAndTarget } from '../../../test/support/scheduler.ts';
import { TEST_TARGET_POLICY } from '../../../test/support/targets.ts';
import { sleep, waitFor } from '../../../test/support/wait.ts';

describe('a fair share of a node for each tenant', () => {
  // Tenant A's targets take 3 s; tenant B's answer at once.
  let slowInFlight = 0;
  let mostSlow = 0;
  const env = useDatabaseAndTarget((call, response) => {
    if (!call.path.startsWith('/slow')) return void response.end('ok');
    slowInFlight++;
    mostSlow = Math.max(mostSlow, slowInFlight);
    setTimeout(() => {
      slowInFlight--;
      response.end('late');
    }, 3_000);
  });

  it('keeps one tenant’s slow targets from making another tenant’s slots late', async () => {
    const { db, target } = env;
    const [a, b] = [newId(), newId()];
    await insertTenant(db.pool, { id: a, name: 'slow-tenant' });
    await insertTenant(db.pool, { id: b, name: 'quick-tenant' });
    const endpoint = (name: string, url: string, every: string) => endpointInputSchema.parse({ name, url, schedule: { every }, timeout: '10s' });
    await applyJobs(db.pool, [{ name: 'slow', synthetic: false, endpoints: Array.from({ length: 40 }, (_, index) => endpoint(`s${index}`, `${target.url}/slow/${index}`, '1s')) }], { tenantId: a, targetPolicy: TEST_TARGET_POLICY });
    await applyJobs(db.pool, [{ name: 'quick', synthetic: false, endpoints: [endpoint('q', `${target.url}/quick`, '500ms')] }], { tenantId: b, targetPolicy: TEST_TARGET_POLICY });
    // 20 calls at once: tenant A alone could fill them all, and did before each tenant had a share.
    const { node } = startNode(db, { maxInFlight: 20, catchUpGraceMs: 60_000 });
    try {
      await sleep(8_000);
    } finally {
      await node.stop();
    }
    // A holds at most its half of the node (plus the slots it held before B's work was seen).
    expect(mostSlow).toBeLessThanOrEqual(12);
    const { rows } = await db.pool.query<{ late_ms: number }>(
      `SELECT extract(epoch FROM r.started_at - r.slot) * 1000 AS late_ms FROM runs r JOIN endpoints e ON e.id = r.endpoint_id
        WHERE e.tenant_id = $1 AND r.slot > (SELECT min(slot) FROM runs) + interval '3 seconds' ORDER BY r.slot`,
      [b],
    );
    expect(rows.length).toBeGreaterThanOrEqual(8);
    // Every slot of B ran on time once the node had seen both tenants' work.
    expect(Math.max(...rows.map((row) => Number(row.late_ms)))).toBeLessThan(500);
    await waitFor('B never skipped', async () => (await db.pool.query(`SELECT count(*)::int AS n FROM endpoint_transitions t JOIN endpoints e ON e.id = t.endpoint_id WHERE e.tenant_id = $1 AND t.steps::text LIKE '%"skipped"%'`, [b])).rows[0].n === 0);
  });
});
