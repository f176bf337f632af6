/** prune (old runs, hints and history) and overview (the queue's counts). */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { v7 } from 'uuid';
import { commitMachines, insertHint, markRunning, newId, overview, prune } from '@tickwise/db';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { HOUR_MS, DAY_MS, sorted, runOf, queueHelpers } from './queue-support.ts';

let db: TestDatabase;

beforeEach(async () => {
  db = await createTestDatabase();
});
afterEach(async () => {
  await db.drop();
});

const { seed, setNextRun, rowOf, claim } = queueHelpers(() => db);

describe('prune', () => {
  it('deletes runs and hints older than the cutoff and the history of endpoints archived before it', async () => {
    const [active, archivedLongAgo, archivedRecently] = await seed(3);
    const row = await rowOf(active!);
    const now = Date.now();
    const oldRuns = [3, 4, 5, 6, 7].map((days) => runOf(row, 'w', 'succeeded', v7({ msecs: now - days * DAY_MS })));
    const recentRuns = [runOf(row, 'w', 'succeeded', v7({ msecs: now - HOUR_MS })), runOf(row, 'w', 'failed')];
    await commitMachines(db.pool, null, [...oldRuns, ...recentRuns], []);
    await db.pool.query("UPDATE endpoints SET archived_at = now() - interval '2 days' WHERE id = $1", [archivedLongAgo]);
    await db.pool.query("UPDATE endpoints SET archived_at = now() - interval '1 hour' WHERE id = $1", [archivedRecently]);
    const hint = (expiresAt: Date) => ({ id: newId(), endpointId: active!, kind: 'run_at' as const, at: new Date(now + HOUR_MS), reason: 'test', source: 'test', expiresAt });
    const expiredLongAgo = hint(new Date(now - 2 * DAY_MS));
    const expiredRecently = hint(new Date(now - HOUR_MS));
    const live = hint(new Date(now + DAY_MS));
    for (const h of [expiredLongAgo, expiredRecently, live]) await insertHint(db.pool, h);

    const cutoff = new Date(now - DAY_MS);
    expect(await prune(db.pool, cutoff, 2)).toEqual({ runs: 2, transitions: 1, hints: 1 });
    expect(await prune(db.pool, cutoff, 2)).toEqual({ runs: 2, transitions: 0, hints: 0 });
    expect(await prune(db.pool, cutoff, 2)).toEqual({ runs: 1, transitions: 0, hints: 0 });
    expect(await prune(db.pool, cutoff, 2)).toEqual({ runs: 0, transitions: 0, hints: 0 });

    const { rows: runs } = await db.pool.query<{ id: string }>('SELECT id FROM runs');
    expect(sorted(runs.map((r) => r.id))).toEqual(sorted(recentRuns.map((r) => r.id)));
    const { rows: hints } = await db.pool.query<{ id: string }>('SELECT id FROM hints');
    expect(sorted(hints.map((h) => h.id))).toEqual(sorted([expiredRecently.id, live.id]));
    const { rows: history } = await db.pool.query<{ endpoint_id: string; n: number }>('SELECT endpoint_id, count(*)::int AS n FROM endpoint_transitions GROUP BY 1');
    expect(new Map(history.map((h) => [h.endpoint_id, h.n]))).toEqual(new Map([[active!, 1], [archivedRecently!, 1]]));
  });
});

describe('overview', () => {
  it('counts due, leased, running, expired leases, paused, and the last hour of runs and failures', async () => {
    const ids = await seed(20);
    await setNextRun(ids, '+1 hour');
    expect(await overview(db.pool)).toEqual({ dueNow: 0, leased: 0, running: 0, expiredLeases: 0, paused: 0, failuresLastHour: 0, runsLastHour: 0 });

    const claimedIds = ids.slice(0, 4);
    await setNextRun(claimedIds, '-1 minute');
    const claimed = await claim('worker-a');
    expect(claimed.length).toBe(4);
    const runningIds = claimedIds.slice(0, 2);
    await markRunning(db.pool, 'worker-a', claimed.filter((row) => runningIds.includes(row.id)));
    // One running and one due row lose their lease.
    await db.pool.query("UPDATE endpoints SET lease_expires_at = now() - interval '1 second' WHERE id = ANY ($1::uuid[])", [[runningIds[0], claimedIds[2]]]);
    // Six idle rows are due now; one of them is archived and does not count.
    await setNextRun(ids.slice(4, 10), '-1 minute');
    await db.pool.query('UPDATE endpoints SET archived_at = now() WHERE id = $1', [ids[9]]);
    await db.pool.query("UPDATE endpoints SET state = 'paused', next_run_at = NULL WHERE id = ANY ($1::uuid[])", [ids.slice(10, 13)]);

    const row = await rowOf(ids[0]!);
    const now = Date.now();
    await commitMachines(db.pool, null, [
      runOf(row, 'w', 'failed'),
      runOf(row, 'w', 'failed'),
      runOf(row, 'w', 'failed', v7({ msecs: now - 30 * 60_000 })),
      runOf(row, 'w', 'succeeded'),
      runOf(row, 'w', 'failed', v7({ msecs: now - 2 * HOUR_MS })),
      runOf(row, 'w', 'succeeded', v7({ msecs: now - 3 * HOUR_MS })),
    ], []);

    expect(await overview(db.pool)).toEqual({ dueNow: 5, leased: 2, running: 2, expiredLeases: 2, paused: 3, failuresLastHour: 3, runsLastHour: 4 });
  });
});
