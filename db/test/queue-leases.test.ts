/** Leases on claimed rows: takeOverExpired, renewLeases and markRunning. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { markRunning, newId, renewLeases, takeOverExpired } from '@tickwise/db';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { LEASE_MS, sorted, idsOf, queueHelpers } from './queue-support.ts';

let db: TestDatabase;

beforeEach(async () => {
  db = await createTestDatabase();
});
afterEach(async () => {
  await db.drop();
});

const { seed, setNextRun, rowsOf, rowOf, claim } = queueHelpers(() => db);

describe('takeOverExpired', () => {
  it('leases only due or running rows whose lease expired, counting the attempt up and keeping the slot', async () => {
    const ids = await seed(30);
    const leased = ids.slice(0, 20);
    await setNextRun(leased, '-1 minute');
    await setNextRun(ids.slice(20), '+1 hour');
    const claimed = await claim('worker-a');
    expect(claimed.length).toBe(20);
    const running = leased.slice(0, 10);
    expect(await markRunning(db.pool, 'worker-a', claimed.filter((row) => running.includes(row.id)))).toBe(10);

    const expiredRunning = running.slice(0, 3);
    const expiredDue = leased.slice(10, 14);
    const [idleWithStaleLease, pausedWithStaleLease] = ids.slice(20);
    await db.pool.query("UPDATE endpoints SET lease_expires_at = now() - interval '5 seconds' WHERE id = ANY ($1::uuid[])", [[...expiredRunning, ...expiredDue]]);
    await db.pool.query("UPDATE endpoints SET lease_owner = 'gone', lease_expires_at = now() - interval '1 minute' WHERE id = $1", [idleWithStaleLease]);
    await db.pool.query("UPDATE endpoints SET state = 'paused', lease_owner = 'gone', lease_expires_at = now() - interval '1 minute' WHERE id = $1", [pausedWithStaleLease]);
    const before = await rowsOf(ids);

    const taken = await takeOverExpired(db.pool, 'worker-b', 100, LEASE_MS);
    expect(idsOf(taken)).toEqual(sorted([...expiredRunning, ...expiredDue]));
    for (const row of taken) {
      const old = before.get(row.id)!;
      expect(row.leaseOwner).toBe('worker-b');
      expect(row.leaseExpiresAt!.getTime()).toBeGreaterThan(Date.now() + LEASE_MS / 2);
      expect(row.attempt).toBe(old.attempt + 1);
      expect(row.attempt).toBe(2);
      expect(row.claimedSlot!.getTime()).toBe(old.claimedSlot!.getTime());
      expect(row.state).toBe(old.state);
      expect(row.version).toBe(old.version + 1);
    }
    const after = await rowsOf(ids);
    for (const id of leased.filter((id) => !expiredRunning.includes(id) && !expiredDue.includes(id))) {
      expect(after.get(id)!.leaseOwner).toBe('worker-a');
      expect(after.get(id)!.attempt).toBe(1);
    }
    expect(after.get(idleWithStaleLease!)!.leaseOwner).toBe('gone');
    expect(after.get(pausedWithStaleLease!)!.leaseOwner).toBe('gone');
    expect(await takeOverExpired(db.pool, 'worker-c', 100, LEASE_MS)).toEqual([]);
  });

  it('takes at most the limit, the longest expired first', async () => {
    const ids = await seed(6);
    await setNextRun(ids, '-1 minute');
    await claim('worker-a');
    for (const [index, id] of ids.entries()) {
      await db.pool.query('UPDATE endpoints SET lease_expires_at = now() - make_interval(secs => $2) WHERE id = $1', [id, index + 1]);
    }
    const taken = await takeOverExpired(db.pool, 'worker-b', 2, LEASE_MS);
    expect(idsOf(taken)).toEqual(sorted(ids.slice(4)));
    const next = await takeOverExpired(db.pool, 'worker-c', 10, LEASE_MS);
    expect(idsOf(next)).toEqual(sorted(ids.slice(0, 4)));
  });
});

describe('renewLeases', () => {
  it("extends only this worker's leases and returns the ids it still holds", async () => {
    const ids = await seed(6);
    await setNextRun(ids, '-1 minute');
    await claim('worker-a', 4);
    const mine = (await rowsOf(ids));
    const aIds = ids.filter((id) => mine.get(id)!.leaseOwner === 'worker-a');
    expect(aIds.length).toBe(4);
    const bIds = (await claim('worker-b')).map((row) => row.id);
    expect(bIds.length).toBe(2);
    await db.pool.query("UPDATE endpoints SET lease_expires_at = now() + interval '1 second' WHERE id = ANY ($1::uuid[])", [ids]);
    const before = await rowsOf(ids);

    const held = await renewLeases(db.pool, 'worker-a', [...aIds, ...bIds, newId()], 600_000);
    expect(sorted(held)).toEqual(sorted(aIds));
    const after = await rowsOf(ids);
    for (const id of aIds) {
      expect(after.get(id)!.leaseExpiresAt!.getTime()).toBeGreaterThan(Date.now() + 300_000);
      expect(after.get(id)!.version).toBe(before.get(id)!.version);
    }
    for (const id of bIds) {
      expect(after.get(id)!.leaseExpiresAt!.getTime()).toBe(before.get(id)!.leaseExpiresAt!.getTime());
      expect(after.get(id)!.leaseOwner).toBe('worker-b');
    }
    expect(await renewLeases(db.pool, 'worker-a', [], 600_000)).toEqual(new Set());
  });
});

describe('markRunning', () => {
  it('moves due → running only for the lease owner at the version it read', async () => {
    const ids = await seed(6);
    await setNextRun(ids, '-1 minute');
    const claimed = new Map((await claim('worker-a')).map((row) => [row.id, row]));
    const [right, alsoRight, wrongWorker, staleVersion] = ids.map((id) => claimed.get(id)!);

    expect(await markRunning(db.pool, 'worker-b', [wrongWorker!])).toBe(0);
    expect(await markRunning(db.pool, 'worker-a', [{ id: staleVersion!.id, version: staleVersion!.version - 1 }])).toBe(0);
    expect(
      await markRunning(db.pool, 'worker-a', [right!, { id: staleVersion!.id, version: staleVersion!.version + 1 }, alsoRight!]),
    ).toBe(2);
    const rows = await rowsOf(ids);
    for (const row of [right!, alsoRight!]) {
      const now = rows.get(row.id)!;
      expect(now.state).toBe('running');
      expect((now.snapshot as { value: string }).value).toBe('running');
      expect(now.version).toBe(row.version);
      expect(now.leaseOwner).toBe('worker-a');
    }
    for (const row of [wrongWorker!, staleVersion!]) {
      expect(rows.get(row.id)!.state).toBe('due');
      expect(rows.get(row.id)!.version).toBe(row.version);
    }
    // A running row is not marked again, and an empty batch is no work.
    expect(await markRunning(db.pool, 'worker-a', [right!])).toBe(0);
    expect(await markRunning(db.pool, 'worker-a', [])).toBe(0);
  });

  it('leaves idle rows alone', async () => {
    const [id] = await seed(1);
    const row = await rowOf(id!);
    await db.pool.query("UPDATE endpoints SET lease_owner = 'worker-a', lease_expires_at = now() + interval '1 minute' WHERE id = $1", [id]);
    expect(await markRunning(db.pool, 'worker-a', [row])).toBe(0);
    expect((await rowOf(id!)).state).toBe('idle');
  });
});
