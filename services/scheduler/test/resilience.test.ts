import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyJobs } from '@tickwise/catalog';
import { createPool, machineHistory, migrate, startEmbeddedPostgres } from '@tickwise/db';
import { endpointInputSchema } from '@tickwise/machines';
import { resolveSchedulerConfig, SchedulerNode } from '@tickwise/scheduler';
import { startHttpTarget, type HttpTarget } from '../../../test/support/http-target.ts';
import { freePort } from '../../../test/support/ports.ts';
import { applyJob, endpointId, startNode, useDatabaseAndTarget } from '../../../test/support/scheduler.ts';
import { TEST_TARGET_POLICY } from '../../../test/support/targets.ts';
import { memoryLogger } from '../../../test/support/logger.ts';
import { sleep, waitFor } from '../../../test/support/wait.ts';

describe('the database restarted under a running node', () => {
  let target: HttpTarget;
  let dataDir: string;
  beforeAll(async () => {
    target = await startHttpTarget();
    dataDir = mkdtempSync(join(tmpdir(), 'tickwise-restart-'));
  });
  afterAll(async () => {
    await target.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps the node alive, reconnects by itself and goes on running slots once each', async () => {
    // Its own server, whatever DATABASE_URL says: the test must be able to stop and start it.
    const port = await freePort();
    let server = await startEmbeddedPostgres({ dataDir, port });
    await server.createDatabase('restart');
    const url = server.urlFor('restart');
    const log = memoryLogger();
    const pool = createPool({ connectionString: url, max: 8, onIdleError: (error) => log.warn('idle client error', { error: error.message }) });
    await migrate(pool);
    await applyJobs(pool, [{ name: 'restart', synthetic: false, endpoints: [endpointInputSchema.parse({ name: 'steady', url: `${target.url}/steady`, schedule: { every: '200ms' } })] }], { targetPolicy: TEST_TARGET_POLICY });
    const node = new SchedulerNode({ pool, connectionString: url, config: resolveSchedulerConfig({ leaseMs: 5_000, pollIntervalMs: 100, targetPolicy: TEST_TARGET_POLICY }), log });
    node.start();
    try {
      await waitFor('runs before the restart', () => target.calls.length >= 5);
      await server.stop();
      const stoppedAt = Date.now();
      await sleep(1_500);
      server = await startEmbeddedPostgres({ dataDir, port });
      await waitFor('runs recorded after the restart', async () => {
        const { rows } = await pool.query('SELECT count(*)::int AS n FROM runs WHERE started_at > $1', [new Date(stoppedAt + 1_500)]);
        return rows[0].n >= 5;
      }, 20_000);
      expect(log.lines.some((line) => line.includes('database unreachable'))).toBe(true);
    } finally {
      await node.stop();
      await pool.end();
      await server.stop();
    }
    const keys = target.calls.map((call) => String(call.headers['idempotency-key']));
    expect(new Set(keys).size).toBe(keys.length);
    expect(log.lines.filter((line) => line.startsWith('error'))).toEqual([]);
  });
});

describe('shutdown', () => {
  // The first call to /hang hangs until the tests are over.
  const env = useDatabaseAndTarget((call, response, { calls, hold }) => {
    if (call.path === '/hang' && calls.filter((c) => c.path === '/hang').length === 1) return hold();
    response.end('ok');
  });

  it('hands back the lease of a claimed slot that has not started yet', async () => {
    const { db, target } = env;
    await applyJob(db, 'later', [{ name: 'soon', url: `${target.url}/soon`, schedule: { cron: '0 0 1 1 *', timezone: 'UTC' } }]);
    const id = await endpointId(db, 'later', 'soon');
    const slot = new Date(Date.now() + 3_000);
    await db.pool.query('UPDATE endpoints SET next_run_at = $2 WHERE id = $1', [id, slot]);
    const { node } = startNode(db, { leaseMs: 20_000, claimAheadMs: 5_000 });
    await waitFor('the claim', async () => (await db.pool.query(`SELECT 1 FROM endpoints WHERE id = $1 AND state = 'due'`, [id])).rowCount);
    await node.stop();
    const { rows } = await db.pool.query('SELECT state, lease_owner, next_run_at FROM endpoints WHERE id = $1', [id]);
    expect(rows[0]).toMatchObject({ state: 'idle', lease_owner: null });
    expect(rows[0].next_run_at.getTime()).toBe(slot.getTime());
    expect(target.calls.filter((call) => call.path === '/soon')).toHaveLength(0);
    const release = (await machineHistory(db.pool, id)).find((step) => step.event === 'RELEASE');
    expect(release?.reason).toMatch(/shutting down/);
  });

  it('aborts a call still running after the grace period, records it, and leaves the slot to a peer with the same key', async () => {
    const { db, target } = env;
    await applyJob(db, 'inflight', [{ name: 'hang', url: `${target.url}/hang`, schedule: { every: '1h' }, timeout: '1m' }]);
    const id = await endpointId(db, 'inflight', 'hang');
    const first = startNode(db, { workerId: 'leaving', shutdownGraceMs: 300 });
    await waitFor('the call in flight', () => target.calls.some((call) => call.path === '/hang'));
    await first.node.stop();
    const { rows: runs } = await db.pool.query('SELECT status, error_kind, worker FROM runs WHERE endpoint_id = $1', [id]);
    expect(runs).toEqual([{ status: 'failed', error_kind: 'aborted', worker: 'leaving' }]);
    const { rows } = await db.pool.query('SELECT state, lease_owner FROM endpoints WHERE id = $1', [id]);
    expect(rows[0]).toEqual({ state: 'idle', lease_owner: null });

    const second = startNode(db, { workerId: 'staying' });
    try {
      await waitFor('the slot run again', () => target.calls.filter((call) => call.path === '/hang').length >= 2);
      const [aborted, again] = target.calls.filter((call) => call.path === '/hang');
      expect(again!.headers['idempotency-key']).toBe(aborted!.headers['idempotency-key']);
    } finally {
      await second.node.stop();
    }
  });
});
