/** claimDue and nextDueAt: which endpoint rows a node claims, and when it must look again. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bucketOf, nextDueAt } from '@tickwise/db';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { ALL_BUCKETS, LEASE_MS, sorted, idsOf, queueHelpers } from './queue-support.ts';

let db: TestDatabase;

beforeEach(async () => {
  db = await createTestDatabase();
});
afterEach(async () => {
  await db.drop();
});

const { seed, setNextRun, rowsOf, rowOf, claim } = queueHelpers(() => db);

describe('claimDue', () => {
  it('claims only rows due by the horizon: idle → due, slot fixed, leased, version + 1', async () => {
    const ids = await seed(50);
    const past = ids.slice(0, 20);
    const soon = ids.slice(20, 30);
    const later = ids.slice(30);
    await setNextRun(past, '-1 minute');
    await setNextRun(soon, '+10 seconds');
    await setNextRun(later, '+1 hour');
    const before = await rowsOf(ids);

    const claimed = await claim('worker-a', 1_000, new Date(Date.now() + 60_000));
    expect(idsOf(claimed)).toEqual(sorted([...past, ...soon]));
    for (const row of claimed) {
      const old = before.get(row.id)!;
      expect(row.state).toBe('due');
      expect((row.snapshot as { value: string }).value).toBe('due');
      expect(row.claimedSlot!.getTime()).toBe(old.nextRunAt!.getTime());
      expect(row.nextRunAt!.getTime()).toBe(old.nextRunAt!.getTime());
      expect(row.attempt).toBe(1);
      expect(row.leaseOwner).toBe('worker-a');
      expect(row.version).toBe(old.version + 1);
    }
    // The lease runs for leaseMs from the claim (now() is the same instant within the statement).
    const { rows: leases } = await db.pool.query<{ ms: number }>(
      'SELECT (extract(epoch FROM lease_expires_at - updated_at) * 1000)::int AS ms FROM endpoints WHERE id = ANY ($1::uuid[])',
      [claimed.map((row) => row.id)],
    );
    expect(leases.every((row) => row.ms === LEASE_MS)).toBe(true);

    const untouched = await rowsOf(later);
    for (const id of later) {
      const row = untouched.get(id)!;
      expect(row.state).toBe('idle');
      expect(row.leaseOwner).toBeNull();
      expect(row.claimedSlot).toBeNull();
      expect(row.version).toBe(before.get(id)!.version);
    }
    // Nothing else is due by a horizon of now.
    expect(await claim('worker-b')).toEqual([]);
  });

  it('claims no more than the limit, earliest first within a bucket, and only from the buckets given', async () => {
    const ids = await seed(50);
    await setNextRun(ids, '-1 minute');
    const firstBatch = await claim('worker-a', 7);
    expect(firstBatch.length).toBe(7);
    // Buckets are taken one after another in the order given: whatever is left lies in later buckets.
    const lastBucket = Math.max(...firstBatch.map((row) => row.bucket));
    const left = ids.filter((id) => !firstBatch.some((row) => row.id === id));
    expect(left.every((id) => bucketOf(id) >= lastBucket)).toBe(true);

    const buckets = [...new Set(left.map(bucketOf))].slice(0, 2);
    const fromTwo = await claim('worker-b', 1_000, new Date(), buckets);
    expect(fromTwo.length).toBeGreaterThan(0);
    expect(fromTwo.every((row) => buckets.includes(row.bucket))).toBe(true);
    const expected = ids.filter((id) => buckets.includes(bucketOf(id)) && !firstBatch.some((row) => row.id === id));
    expect(idsOf(fromTwo)).toEqual(sorted(expected));

    // Within one bucket the claim follows next_run_at.
    const bucket = bucketOf(ids[0]!);
    const inBucket = ids.filter((id) => bucketOf(id) === bucket);
    await db.pool.query("UPDATE endpoints SET state = 'idle', lease_owner = NULL, lease_expires_at = NULL WHERE id = ANY ($1::uuid[])", [inBucket]);
    for (const [index, id] of inBucket.entries()) await setNextRun([id], `-${index + 1} minutes`);
    const [earliest] = await claim('worker-c', 1, new Date(), [bucket]);
    expect(earliest!.id).toBe(inBucket[inBucket.length - 1]);
  });

  it('gives racing claimers disjoint sets whose union is everything due', async () => {
    const ids = await seed(50);
    const due = ids.slice(0, 40);
    await setNextRun(due, '-1 minute');
    await setNextRun(ids.slice(40), '+1 hour');
    const workers = ['w1', 'w2', 'w3', 'w4', 'w5'];
    const results = await Promise.all(workers.map((worker) => claim(worker, 50)));

    const all = results.flatMap((rows) => rows.map((row) => row.id));
    expect(new Set(all).size).toBe(all.length);
    expect(sorted(all)).toEqual(sorted(due));
    const rows = await rowsOf(due);
    results.forEach((claimed, index) => {
      for (const row of claimed) expect(rows.get(row.id)!.leaseOwner).toBe(workers[index]);
    });
  });

  it('leases paused rows whose pause has ended without changing their state, and skips rows leased by someone else', async () => {
    const ids = await seed(10);
    const [pausedEnded, pausedLeasedByOther, pausedLeaseExpired, pausedLater] = ids;
    await setNextRun(ids, '+1 hour');
    await db.pool.query(
      `UPDATE endpoints SET state = 'paused', snapshot = snapshot || '{"value":"paused"}'::jsonb, paused_reason = 'maintenance', next_run_at = now() - interval '1 minute'
        WHERE id = ANY ($1::uuid[])`,
      [[pausedEnded, pausedLeasedByOther, pausedLeaseExpired]],
    );
    await db.pool.query("UPDATE endpoints SET state = 'paused', next_run_at = now() + interval '1 hour' WHERE id = $1", [pausedLater]);
    await db.pool.query("UPDATE endpoints SET lease_owner = 'other', lease_expires_at = now() + interval '1 minute' WHERE id = $1", [pausedLeasedByOther]);
    await db.pool.query("UPDATE endpoints SET lease_owner = 'crashed', lease_expires_at = now() - interval '1 minute' WHERE id = $1", [pausedLeaseExpired]);
    const before = await rowsOf(ids);

    const claimed = await claim('worker-a');
    expect(idsOf(claimed)).toEqual(sorted([pausedEnded!, pausedLeaseExpired!]));
    for (const row of claimed) {
      expect(row.state).toBe('paused');
      expect((row.snapshot as { value: string }).value).toBe('paused');
      expect(row.claimedSlot).toBeNull();
      expect(row.attempt).toBe(before.get(row.id)!.attempt);
      expect(row.leaseOwner).toBe('worker-a');
      expect(row.version).toBe(before.get(row.id)!.version + 1);
    }
    expect((await rowOf(pausedLeasedByOther!)).leaseOwner).toBe('other');
  });

  it('never claims archived rows', async () => {
    const ids = await seed(10);
    await setNextRun(ids, '-1 minute');
    await db.pool.query('UPDATE endpoints SET archived_at = now() WHERE id = ANY ($1::uuid[])', [ids.slice(0, 4)]);
    const claimed = await claim('worker-a');
    expect(idsOf(claimed)).toEqual(sorted(ids.slice(4)));
    const archived = await rowsOf(ids.slice(0, 4));
    for (const row of archived.values()) {
      expect(row.state).toBe('idle');
      expect(row.leaseOwner).toBeNull();
    }
  });
});

describe('nextDueAt', () => {
  it('returns the earliest next run of a claimable row in the given buckets', async () => {
    const ids = await seed(20);
    await setNextRun(ids, '+1 hour');
    const [earliest, archived, claimed, pausedSooner] = ids;
    await setNextRun([earliest!], '+10 minutes');
    await db.pool.query("UPDATE endpoints SET next_run_at = now() + interval '1 minute', archived_at = now() WHERE id = $1", [archived]);
    await db.pool.query("UPDATE endpoints SET state = 'due', next_run_at = now() + interval '2 minutes' WHERE id = $1", [claimed]);
    const expected = (await rowOf(earliest!)).nextRunAt!;

    expect((await nextDueAt(db.pool, ALL_BUCKETS))!.getTime()).toBe(expected.getTime());
    expect((await nextDueAt(db.pool, [bucketOf(earliest!)]))!.getTime()).toBe(expected.getTime());
    const otherBuckets = ALL_BUCKETS.filter((bucket) => bucket !== bucketOf(earliest!));
    const elsewhere = await nextDueAt(db.pool, otherBuckets);
    expect(elsewhere === null || elsewhere.getTime() > expected.getTime()).toBe(true);

    // A paused row counts too: its pause ending is when a node must look again.
    await db.pool.query("UPDATE endpoints SET state = 'paused', next_run_at = now() + interval '5 minutes' WHERE id = $1", [pausedSooner]);
    const paused = (await rowOf(pausedSooner!)).nextRunAt!;
    expect((await nextDueAt(db.pool, ALL_BUCKETS))!.getTime()).toBe(paused.getTime());
  });

  it('returns null when nothing is claimable', async () => {
    const ids = await seed(5);
    expect(await nextDueAt(db.pool, ALL_BUCKETS)).not.toBeNull();
    await db.pool.query('UPDATE endpoints SET archived_at = now() WHERE id = ANY ($1::uuid[])', [ids]);
    expect(await nextDueAt(db.pool, ALL_BUCKETS)).toBeNull();
    expect(await nextDueAt(db.pool, [])).toBeNull();
  });
});
