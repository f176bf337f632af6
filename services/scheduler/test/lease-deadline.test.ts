import { describe, expect, it } from 'vitest';
import type { Pool } from '@tickwise/db';
import { resolveSchedulerConfig, SchedulerNode } from '@tickwise/scheduler';
import { memoryLogger } from '../../../test/support/logger.ts';
import { applyJob, endpointId, useDatabaseAndTarget } from '../../../test/support/scheduler.ts';
import { TEST_TARGET_POLICY } from '../../../test/support/targets.ts';
import { sleep, waitFor } from '../../../test/support/wait.ts';

/**
 * The pool, but while `cut` is set the lease keeper's statements (renewals, takeovers) fail as a
 * query timeout does: the node's leases run out as behind a partition, while its other statements
 * go through. (services/scheduler/test/partition.test.ts cuts a real network, as root.)
 */
function leaseStatementsCuttable(pool: Pool): { pool: Pool; state: { cut: boolean } } {
  const state = { cut: false };
  const query = (text: unknown, ...rest: unknown[]) => {
    if (state.cut && typeof text === 'string' && /tickwise_renew_leases|tickwise_take_over/.test(text)) return Promise.reject(new Error('Query read timeout'));
    return (pool.query as (...args: unknown[]) => unknown)(text, ...rest);
  };
  const wrapped = new Proxy(pool, { get: (target, name) => (name === 'query' ? query : Reflect.get(target, name, target)) });
  return { pool: wrapped, state };
}

describe('a held slot whose lease may have run out', () => {
  // The first attempt at a slot fails, so the node holds the slot for a retry 4-8 s later.
  const env = useDatabaseAndTarget((call, response) => {
    response.statusCode = call.headers['x-tickwise-attempt'] === '1' ? 500 : 200;
    response.end('ok');
  });

  it('is dropped, not dispatched, once renewals stop landing; the slot runs after a takeover, with the same key', async () => {
    const { db, target } = env;
    await applyJob(db, 'deadline', [{ name: 'retried', url: `${target.url}/retried`, schedule: { every: '1m' }, retry: { attempts: 5, backoff: '8s', maxBackoff: '8s', on: ['5xx'] } }]);
    const id = await endpointId(db, 'deadline', 'retried');
    const { pool, state } = leaseStatementsCuttable(db.pool);
    const log = memoryLogger();
    const leaseMs = 2_000;
    const node = new SchedulerNode({ pool, connectionString: db.url, config: resolveSchedulerConfig({ leaseMs, pollIntervalMs: 100, shutdownGraceMs: 1_000, prune: false, targetPolicy: TEST_TARGET_POLICY }), log });
    node.start();
    try {
      const first = await waitFor('the first attempt', () => target.calls.find((call) => call.headers['x-tickwise-attempt'] === '1'));
      state.cut = true;
      // The retry falls due 4-8 s after the first attempt, past the lease (2 s after the last renewal).
      await waitFor('the slot dropped', () => log.lines.some((line) => line.includes('lease may have expired before the slot')), 12_000);
      expect(target.calls, 'no attempt made once the lease may have run out').toHaveLength(1);
      const { rows } = await db.pool.query(`SELECT state, lease_owner, lease_expires_at < now() AS expired FROM endpoints WHERE id = $1`, [id]);
      expect(rows[0]).toMatchObject({ state: 'due', expired: true });
      // Renewals land again: the expired lease is taken over (here by the same node) and the slot runs.
      const restoredAt = Date.now();
      state.cut = false;
      const next = await waitFor('the slot run after the takeover', () => target.calls[1], 10_000);
      expect(next.receivedAt - restoredAt).toBeLessThan(5_000);
      expect(next.headers['idempotency-key']).toBe(first.headers['idempotency-key']);
      expect(Number(next.headers['x-tickwise-attempt'])).toBeGreaterThan(1);
      await sleep(500);
      expect(target.calls).toHaveLength(2);
    } finally {
      await node.stop();
    }
    expect(log.lines.filter((line) => line.startsWith('error'))).toEqual([]);
  });
});
