import { describe, expect, it } from 'vitest';
import { setPause } from '@tickwise/catalog';
import { machineHistory } from '@tickwise/db';
import { applyJob, endpointId, startNode, useDatabaseAndTarget } from '../../../test/support/scheduler.ts';
import { sleep, waitFor } from '../../../test/support/wait.ts';

describe('slots missed while no node ran', () => {
  const env = useDatabaseAndTarget();

  it('catchUp: skip drops them and keeps the phase; catchUp: once runs one of them, then goes on', async () => {
    const { db, target } = env;
    await applyJob(db, 'downtime', [
      { name: 'skipper', url: `${target.url}/skip`, schedule: { every: '1m' }, catchUp: 'skip' },
      { name: 'once', url: `${target.url}/once`, schedule: { every: '1m' }, catchUp: 'once' },
    ]);
    // Take both down to a stale slot, five minutes ago, as if every node had been off since.
    const stale = new Date(Date.now() - 5 * 60_000 - 500);
    // Both have run before (no longer fresh: a first slot would run however late).
    await db.pool.query("UPDATE endpoints SET next_run_at = $1, snapshot = jsonb_set(jsonb_set(snapshot, '{context,lastSlot}', to_jsonb($2::text)), '{context,fresh}', 'false')", [stale, new Date(stale.getTime() - 60_000).toISOString()]);
    const skipperId = await endpointId(db, 'downtime', 'skipper');
    const onceId = await endpointId(db, 'downtime', 'once');
    const { node } = startNode(db, { catchUpGraceMs: 5_000 });
    await waitFor('both planned into the future', async () => {
      const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM endpoints WHERE state = 'idle' AND next_run_at > now()`);
      return rows[0].n === 2;
    });
    await sleep(300);
    await node.stop();
    expect(target.calls.filter((call) => call.path === '/skip')).toHaveLength(0);
    expect(target.calls.filter((call) => call.path === '/once')).toHaveLength(1);
    const { rows } = await db.pool.query('SELECT id, next_run_at, reason FROM endpoints');
    for (const row of rows) {
      // Still on the original minute grid.
      expect((row.next_run_at.getTime() - stale.getTime()) % 60_000).toBe(0);
      expect(row.next_run_at.getTime()).toBeGreaterThan(Date.now());
    }
    expect(rows.find((row) => row.id === skipperId)!.reason).toMatch(/catch-up: skipped \d+ missed slot/);
    const history = await machineHistory(db.pool, skipperId);
    expect(history.filter((step) => step.event === 'SKIP')).toHaveLength(1);
    expect(history.map((step) => step.event)).not.toContain('DISPATCH');
    const { rows: runs } = await db.pool.query('SELECT slot FROM runs WHERE endpoint_id = $1', [onceId]);
    expect(runs.map((run) => run.slot.getTime())).toEqual([stale.getTime()]);
  });
});

describe('a pause set by a person', () => {
  const env = useDatabaseAndTarget((call, response) => {
    if (call.path === '/slow') return void setTimeout(() => response.end('late'), 400);
    response.end('ok');
  });

  it('stops an idle machine at once and a running one after its run; resume starts it again', async () => {
    const { db, target } = env;
    await applyJob(db, 'pausing', [
      { name: 'idle-one', url: `${target.url}/fast`, schedule: { every: '150ms' } },
      { name: 'busy-one', url: `${target.url}/slow`, schedule: { every: '100ms' }, timeout: '5s' },
    ]);
    const idleId = await endpointId(db, 'pausing', 'idle-one');
    const busyId = await endpointId(db, 'pausing', 'busy-one');
    const { node } = startNode(db);
    try {
      await waitFor('the slow call in flight', () => target.calls.some((call) => call.path === '/slow'));
      await setPause(db.pool, busyId, { reason: 'maintenance window', until: null });
      await setPause(db.pool, idleId, { reason: 'maintenance window', until: null });
      await waitFor('both paused', async () => (await db.pool.query(`SELECT count(*)::int AS n FROM endpoints WHERE state = 'paused'`)).rows[0].n === 2);
      const counted = target.calls.length;
      await sleep(600);
      expect(target.calls.length).toBe(counted);
      const { rows } = await db.pool.query('SELECT reason, paused_reason, next_run_at FROM endpoints WHERE id = $1', [busyId]);
      expect(rows[0]).toMatchObject({ paused_reason: 'maintenance window', next_run_at: null });
      expect(rows[0].reason).toMatch(/paused by a person: maintenance window/);

      await setPause(db.pool, idleId, null);
      await waitFor('calls after resume', () => target.calls.length > counted);
      const { rows: resumed } = await db.pool.query('SELECT state FROM endpoints WHERE id = $1', [idleId]);
      expect(['idle', 'due', 'running']).toContain(resumed[0].state);
    } finally {
      await node.stop();
    }
  });

  it('lets a pause with an end run out by itself', async () => {
    const { db, target } = env;
    await applyJob(db, 'timed', [{ name: 'nap', url: `${target.url}/nap`, schedule: { every: '100ms' } }]);
    const id = await endpointId(db, 'timed', 'nap');
    // Not called before the pause ends (measured from its end, not from when setPause returned,
    // which a busy machine may delay by more than any allowance).
    const until = new Date(Date.now() + 700);
    await setPause(db.pool, id, { reason: 'short nap', until });
    const { node } = startNode(db);
    try {
      await waitFor('calls after the pause ended', () => target.calls.some((call) => call.path === '/nap'), 10_000);
      expect(target.calls.find((call) => call.path === '/nap')!.receivedAt).toBeGreaterThanOrEqual(until.getTime());
    } finally {
      await node.stop();
    }
  });
});

describe('an endpoint the governor cannot plan', () => {
  const env = useDatabaseAndTarget();

  it('is paused with the reason after its run, and the node keeps going', async () => {
    const { db, target } = env;
    await applyJob(db, 'broken', [
      { name: 'bad-cron', url: `${target.url}/bad`, schedule: { cron: '* * * * *' } },
      { name: 'fine', url: `${target.url}/fine`, schedule: { every: '100ms' } },
    ]);
    const badId = await endpointId(db, 'broken', 'bad-cron');
    // A row written before validation knew better: a cron that never fires, due now.
    await db.pool.query(`UPDATE endpoints SET spec = jsonb_set(spec, '{schedule,cron}', '"0 0 30 2 *"'), next_run_at = now() WHERE id = $1`, [badId]);
    const { node } = startNode(db);
    try {
      const row = await waitFor('the broken endpoint paused', async () => (await db.pool.query(`SELECT state, reason, next_run_at FROM endpoints WHERE id = $1 AND state = 'paused'`, [badId])).rows[0]);
      expect(row.reason).toMatch(/^planning failed, paused until the endpoint is fixed: cron "0 0 30 2 \*" has no run after/);
      expect(row.next_run_at).toBeNull();
      const before = target.calls.filter((call) => call.path === '/fine').length;
      await waitFor('the other endpoint still running', () => target.calls.filter((call) => call.path === '/fine').length > before + 2);
      expect(target.calls.filter((call) => call.path === '/bad')).toHaveLength(1);
    } finally {
      await node.stop();
    }
  });
});
