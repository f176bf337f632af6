import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { v7 } from 'uuid';
import {
  BUCKET_COUNT,
  bucketOf,
  claimDue,
  commitMachines,
  insertHint,
  machineHistory,
  markRunning,
  newId,
  nextDueAt,
  overview,
  prune,
  renewLeases,
  takeOverExpired,
  toEndpointRow,
  type EndpointRow,
  type MachineWrite,
  type RawEndpointRow,
  type RunRecord,
} from '@tickwise/db';
import { planWrite } from '@tickwise/catalog';
import { persistSnapshot, restoreSnapshot, stateOf, step, type EndpointEvent, type UserPause } from '@tickwise/machines';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { applyJob } from '../../test/support/scheduler.ts';

const ALL_BUCKETS = Array.from({ length: BUCKET_COUNT }, (_, bucket) => bucket);
const LEASE_MS = 30_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

let db: TestDatabase;

beforeEach(async () => {
  db = await createTestDatabase();
});
afterEach(async () => {
  await db.drop();
});

/** `count` endpoints of one job (every 1s, on a port nobody listens on); their ids in name order. */
async function seed(count = 50, job = 'load'): Promise<string[]> {
  const endpoints = Array.from({ length: count }, (_, index) => ({ name: `e${String(index).padStart(3, '0')}`, url: 'http://127.0.0.1:1/x', schedule: { every: '1s' } }));
  await applyJob(db, job, endpoints);
  const { rows } = await db.pool.query<{ id: string }>('SELECT e.id FROM endpoints e JOIN jobs j ON j.id = e.job_id WHERE j.name = $1 ORDER BY e.name', [job]);
  expect(rows.length).toBe(count);
  return rows.map((row) => row.id);
}

/** Moves next_run_at of the given endpoints relative to the database clock, e.g. '-1 minute'. */
async function setNextRun(ids: readonly string[], offset: string): Promise<void> {
  await db.pool.query('UPDATE endpoints SET next_run_at = now() + $2::interval WHERE id = ANY ($1::uuid[])', [ids, offset]);
}

async function rowsOf(ids: readonly string[]): Promise<Map<string, EndpointRow>> {
  const { rows } = await db.pool.query<RawEndpointRow>('SELECT * FROM endpoints WHERE id = ANY ($1::uuid[])', [ids]);
  return new Map(rows.map((raw) => [raw.id, toEndpointRow(raw)]));
}

async function rowOf(id: string): Promise<EndpointRow> {
  const row = (await rowsOf([id])).get(id);
  if (!row) throw new Error(`no endpoint ${id}`);
  return row;
}

const sorted = (ids: Iterable<string>) => [...ids].sort();
const idsOf = (rows: readonly EndpointRow[]) => sorted(rows.map((row) => row.id));

function claim(worker: string, limit = 1_000, horizon = new Date(), buckets: readonly number[] = ALL_BUCKETS) {
  return claimDue(db.pool, { worker, limit, leaseMs: LEASE_MS, horizon, buckets });
}

/** The write a node makes after a run: running → planning → idle (or paused under a person's pause). */
function finishWrite(row: EndpointRow, outcome: 'succeeded' | 'failed', runId: string | null, options: { userPause?: UserPause | null; version?: number } = {}): MachineWrite {
  const { snapshot } = restoreSnapshot(row.snapshot, row);
  expect(stateOf(snapshot)).toBe('running');
  const write = planWrite(snapshot, { type: 'FINISH', outcome }, {
    id: row.id,
    version: options.version ?? row.version,
    spec: row.spec,
    hints: [],
    userPause: options.userPause ?? null,
    now: new Date(),
    random: () => 0,
  });
  if (runId) write.transitions[0] = { ...write.transitions[0]!, runId };
  return write;
}

function runOf(row: EndpointRow, worker: string, status: 'succeeded' | 'failed', id = newId()): RunRecord {
  const startedAt = new Date();
  return {
    id,
    endpointId: row.id,
    jobId: row.jobId,
    slot: row.claimedSlot ?? startedAt,
    attempt: row.attempt,
    worker,
    status,
    httpStatus: status === 'succeeded' ? 200 : 503,
    durationMs: 12.5,
    startedAt,
    finishedAt: new Date(startedAt.getTime() + 12),
    errorKind: status === 'failed' ? 'http_status' : null,
    errorMessage: status === 'failed' ? 'HTTP 503' : null,
    responseBody: 'ok',
    responseTruncated: false,
    plannedSource: 'baseline',
  };
}

/** Claims `ids` for `worker` and marks them running; returns the rows as they are now. */
async function claimAndRun(worker: string, ids: readonly string[]): Promise<Map<string, EndpointRow>> {
  await db.pool.query("UPDATE endpoints SET next_run_at = now() + interval '1 hour' WHERE NOT id = ANY ($1::uuid[])", [ids]);
  await setNextRun(ids, '-1 minute');
  const claimed = await claim(worker);
  expect(idsOf(claimed)).toEqual(sorted(ids));
  expect(await markRunning(db.pool, worker, claimed)).toBe(ids.length);
  return rowsOf(ids);
}

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

describe('commitMachines', () => {
  it('writes a finished machine with its run and transitions, and hands the lease back', async () => {
    const [id] = await seed(3);
    const row = (await claimAndRun('worker-a', [id!])).get(id!)!;
    const run = runOf(row, 'worker-a', 'succeeded');
    const write = finishWrite(row, 'succeeded', run.id);
    const { rows: seqBefore } = await db.pool.query<{ transition_seq: string }>('SELECT transition_seq FROM endpoints WHERE id = $1', [id]);
    const seq = Number(seqBefore[0]!.transition_seq);

    const committed = await commitMachines(db.pool, 'worker-a', [run], [write]);
    expect(committed).toEqual(new Map([[id, { version: row.version + 1, pause: null }]]));
    const after = await rowOf(id!);
    expect(after.state).toBe('idle');
    expect(after.snapshot).toEqual(write.snapshot);
    expect(after.version).toBe(row.version + 1);
    expect(after.leaseOwner).toBeNull();
    expect(after.leaseExpiresAt).toBeNull();
    expect(after.claimedSlot).toBeNull();
    expect(after.nextRunAt!.getTime()).toBe(write.nextRunAt!.getTime());
    expect(after.reason).toBe(write.reason);

    const { rows: runs } = await db.pool.query('SELECT * FROM runs WHERE endpoint_id = $1', [id]);
    expect(runs.length).toBe(1);
    expect(runs[0]).toMatchObject({ id: run.id, job_id: row.jobId, status: 'succeeded', http_status: 200, attempt: 1, worker: 'worker-a', response_body: 'ok', planned_source: 'baseline' });
    expect((runs[0].slot as Date).getTime()).toBe(row.claimedSlot!.getTime());

    // The write is one history row holding its steps in order.
    const { rows: history } = await db.pool.query(
      'SELECT seq::int, ring_slot, from_state, to_state, steps, reason, next_run_at, run_id, worker FROM endpoint_transitions WHERE endpoint_id = $1 AND seq > $2 ORDER BY seq',
      [id, seq],
    );
    expect(history).toEqual([
      {
        seq: seq + 1,
        ring_slot: seq + 1,
        from_state: 'running',
        to_state: 'idle',
        steps: JSON.parse(JSON.stringify(write.transitions)),
        reason: write.reason,
        next_run_at: write.nextRunAt,
        run_id: run.id,
        worker: 'worker-a',
      },
    ]);
    expect((history[0].steps as { event: string }[]).map((s) => s.event)).toEqual(['FINISH', 'PLANNED']);
    const steps = await machineHistory(db.pool, id!, 1);
    expect(steps.map((s) => [s.seq, s.from, s.to, s.event, s.runId, s.worker])).toEqual([
      [seq + 1, 'running', 'planning', 'FINISH', run.id, 'worker-a'],
      [seq + 1, 'planning', 'idle', 'PLANNED', null, 'worker-a'],
    ]);
    const { rows: seqAfter } = await db.pool.query<{ transition_seq: string }>('SELECT transition_seq FROM endpoints WHERE id = $1', [id]);
    expect(Number(seqAfter[0]!.transition_seq)).toBe(seq + 1);
  });

  it('does not write for a worker that does not hold the lease', async () => {
    const [id] = await seed(1);
    const row = (await claimAndRun('worker-a', [id!])).get(id!)!;
    const write = finishWrite(row, 'succeeded', null);
    expect((await commitMachines(db.pool, 'worker-b', [], [write])).size).toBe(0);
    expect((await commitMachines(db.pool, null, [], [write])).size).toBe(0);
    const after = await rowOf(id!);
    expect(after).toEqual(row);
  });

  it('does not write over a newer version', async () => {
    const [id] = await seed(1);
    const row = (await claimAndRun('worker-a', [id!])).get(id!)!;
    const stale = finishWrite(row, 'succeeded', null, { version: row.version - 1 });
    expect((await commitMachines(db.pool, 'worker-a', [], [stale])).size).toBe(0);
    expect(await rowOf(id!)).toEqual(row);
    // The same write at the current version goes through, once.
    const fresh = finishWrite(row, 'succeeded', null);
    expect((await commitMachines(db.pool, 'worker-a', [], [fresh])).get(id!)?.version).toBe(row.version + 1);
    expect((await commitMachines(db.pool, null, [], [fresh])).size).toBe(0);
  });

  it('writes only the machines that pass their checks in a batch', async () => {
    const ids = await seed(3);
    const rows = await claimAndRun('worker-a', ids);
    const [ok, stale, other] = ids.map((id) => rows.get(id)!);
    const committed = await commitMachines(db.pool, 'worker-a', [], [
      finishWrite(ok!, 'succeeded', null),
      finishWrite(stale!, 'succeeded', null, { version: stale!.version + 5 }),
      { ...finishWrite(other!, 'succeeded', null), id: newId() },
    ]);
    expect([...committed.keys()]).toEqual([ok!.id]);
    const after = await rowsOf(ids);
    expect(after.get(ok!.id)!.state).toBe('idle');
    expect(after.get(stale!.id)!.state).toBe('running');
    expect(after.get(other!.id)!.state).toBe('running');
  });

  it('records a run once, whatever the number of commits carrying it', async () => {
    const [id] = await seed(1);
    const row = (await claimAndRun('worker-a', [id!])).get(id!)!;
    const run = runOf(row, 'worker-a', 'failed');
    await commitMachines(db.pool, 'worker-a', [run], [finishWrite(row, 'failed', run.id)]);
    const again = await commitMachines(db.pool, 'worker-a', [{ ...run, status: 'succeeded', httpStatus: 200 }], []);
    expect(again.size).toBe(0);
    const { rows } = await db.pool.query('SELECT id, status, http_status, error_kind FROM runs');
    expect(rows).toEqual([{ id: run.id, status: 'failed', http_status: 503, error_kind: 'http_status' }]);
  });

  it('keeps the lease and slot of a machine that stays leased', async () => {
    const [id] = await seed(1);
    await setNextRun([id!], '-1 minute');
    const [row] = await claim('worker-a');
    const { snapshot } = restoreSnapshot(row!.snapshot, row!);
    const moved = step(snapshot, { type: 'DISPATCH' } satisfies EndpointEvent, new Date());
    const write: MachineWrite = {
      id: row!.id,
      expectedVersion: row!.version,
      state: stateOf(moved.snapshot),
      snapshot: persistSnapshot(moved.snapshot),
      nextRunAt: row!.nextRunAt,
      reason: row!.reason,
      claimedSlot: row!.claimedSlot,
      transitions: [moved.record],
    };
    expect((await commitMachines(db.pool, 'worker-a', [], [write])).get(row!.id)?.version).toBe(row!.version + 1);
    const after = await rowOf(row!.id);
    expect(after.state).toBe('running');
    expect(after.leaseOwner).toBe('worker-a');
    expect(after.leaseExpiresAt!.getTime()).toBe(row!.leaseExpiresAt!.getTime());
    expect(after.claimedSlot!.getTime()).toBe(row!.claimedSlot!.getTime());
  });

  it("clears the lease when the machine ends paused, and reports a person's pause", async () => {
    const [id] = await seed(1);
    const row = (await claimAndRun('worker-a', [id!])).get(id!)!;
    // A person paused the endpoint while its run was in flight.
    await db.pool.query("UPDATE endpoints SET paused_reason = 'alice: maintenance', paused_at = now() WHERE id = $1", [id]);
    const write = finishWrite(row, 'succeeded', null, { userPause: { reason: 'alice: maintenance', until: null } });
    expect(write.state).toBe('paused');
    const committed = await commitMachines(db.pool, 'worker-a', [], [write]);
    expect(committed.get(id!)).toEqual({ version: row.version + 1, pause: { reason: 'alice: maintenance', until: null } });
    const after = await rowOf(id!);
    expect(after.state).toBe('paused');
    expect(after.leaseOwner).toBeNull();
    expect(after.leaseExpiresAt).toBeNull();
    expect(after.claimedSlot).toBeNull();
    expect(after.nextRunAt).toBeNull();
    expect(after.reason).toBe('paused by a person: alice: maintenance');
  });

  it('keeps the history of the last 100 writes per endpoint while the sequence keeps counting', async () => {
    const [id, other] = await seed(2);
    const { rows: initial } = await db.pool.query('SELECT seq::int, from_state, to_state FROM endpoint_transitions WHERE endpoint_id = $1', [id]);
    expect(initial).toEqual([{ seq: 1, from_state: null, to_state: 'idle' }]); // CREATE → planning → idle
    for (let write = 2; write <= 150; write++) {
      const row = await rowOf(id!);
      const { snapshot } = restoreSnapshot(row.snapshot, row);
      const replan = planWrite(snapshot, { type: 'REPLAN', reason: `write ${write}` }, { id: row.id, version: row.version, spec: row.spec, hints: [], userPause: null, now: new Date(), random: () => 0 });
      expect((await commitMachines(db.pool, null, [], [replan])).size).toBe(1);
    }
    const { rows } = await db.pool.query<{ n: number; min: number; max: number; ring_ok: boolean }>(
      `SELECT count(*)::int AS n, min(seq)::int AS min, max(seq)::int AS max, bool_and(ring_slot = seq % 100) AS ring_ok
         FROM endpoint_transitions WHERE endpoint_id = $1`,
      [id],
    );
    expect(rows[0]).toEqual({ n: 100, min: 51, max: 150, ring_ok: true });
    const { rows: endpoint } = await db.pool.query<{ transition_seq: string }>('SELECT transition_seq FROM endpoints WHERE id = $1', [id]);
    expect(Number(endpoint[0]!.transition_seq)).toBe(150);
    const last = await machineHistory(db.pool, id!, 2);
    expect(last.map((s) => [s.seq, s.event, s.to])).toEqual([
      [149, 'REPLAN', 'planning'],
      [149, 'PLANNED', 'idle'],
      [150, 'REPLAN', 'planning'],
      [150, 'PLANNED', 'idle'],
    ]);
    expect((await machineHistory(db.pool, id!)).length).toBe(200);
    // Another endpoint's history is its own.
    const { rows: others } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM endpoint_transitions WHERE endpoint_id = $1', [other]);
    expect(others[0]!.n).toBe(1);
  });
});

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
