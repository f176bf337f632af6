/**
 * Fixtures shared by the queue-*.test.ts files. Each of those files makes its own test database per test; the
 * helpers that touch it come from queueHelpers(() => db), which reads the current database on every call.
 */
import { expect } from 'vitest';
import {
  BUCKET_COUNT,
  claimDue,
  finishReason,
  markRunning,
  newId,
  toEndpointRow,
  type EndpointRow,
  type MachineWrite,
  type RawEndpointRow,
  type RunRecord,
} from '@tickwise/db';
import { planWrite } from '@tickwise/catalog';
import { restoreSnapshot, stateOf, step, type UserPause } from '@tickwise/machines';
import type { TestDatabase } from '../../test/support/database.ts';
import { applyJob } from '../../test/support/scheduler.ts';

export const ALL_BUCKETS = Array.from({ length: BUCKET_COUNT }, (_, bucket) => bucket);
export const LEASE_MS = 30_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

export const sorted = (ids: Iterable<string>) => [...ids].sort();
export const idsOf = (rows: readonly EndpointRow[]) => sorted(rows.map((row) => row.id));

/** The write a node makes after a run: running → planning → idle (or paused under a person's pause). */
export function finishWrite(row: EndpointRow, outcome: 'succeeded' | 'failed', runId: string | null, options: { userPause?: UserPause | null; version?: number } = {}): MachineWrite {
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

/**
 * The write a node makes for a routine cycle of a claimed, running row with `run`: CLAIM (replayed
 * from idle at `claimedAt`), DISPATCH, FINISH, planned back to idle, as the node steps the machine.
 */
export function routineWrite(row: EndpointRow, run: RunRecord, claimedAt: Date): MachineWrite {
  const idle = restoreSnapshot({ ...(row.snapshot as object), value: 'idle' }, { ...row, state: 'idle' }).snapshot;
  const claimed = step(idle, { type: 'CLAIM', slot: row.claimedSlot!.toISOString() }, claimedAt);
  const dispatched = step(claimed.snapshot, { type: 'DISPATCH', attempt: 1 }, run.startedAt);
  const finished = step(dispatched.snapshot, { type: 'FINISH', outcome: run.status, notBefore: null }, run.finishedAt);
  const earlier = [claimed.record, dispatched.record, { ...finished.record, runId: run.id, reason: finishReason(run) }];
  return planWrite(finished.snapshot, null, { id: row.id, version: row.version, spec: row.spec, hints: [], userPause: null, now: run.finishedAt, random: () => 0, justFinished: run.status }, earlier);
}

export function runOf(row: EndpointRow, worker: string, status: 'succeeded' | 'failed', id = newId()): RunRecord {
  const startedAt = new Date();
  return {
    id,
    endpointId: row.id,
    jobId: row.jobId,
    slot: row.claimedSlot ?? startedAt,
    attempt: row.attempt,
    lastAttempt: true,
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
    retryAfterMs: null,
  };
}

/** Helpers that work on the database `database()` returns when they are called (the calling file's current one). */
export function queueHelpers(database: () => TestDatabase) {
  /** `count` endpoints of one job (every 1s, on a port nobody listens on); their ids in name order. */
  async function seed(count = 50, job = 'load'): Promise<string[]> {
    const db = database();
    const endpoints = Array.from({ length: count }, (_, index) => ({ name: `e${String(index).padStart(3, '0')}`, url: 'http://127.0.0.1:1/x', schedule: { every: '1s' } }));
    await applyJob(db, job, endpoints);
    const { rows } = await db.pool.query<{ id: string }>('SELECT e.id FROM endpoints e JOIN jobs j ON j.id = e.job_id WHERE j.name = $1 ORDER BY e.name', [job]);
    expect(rows.length).toBe(count);
    return rows.map((row) => row.id);
  }

  /** Moves next_run_at of the given endpoints relative to the database clock, e.g. '-1 minute'. */
  async function setNextRun(ids: readonly string[], offset: string): Promise<void> {
    await database().pool.query('UPDATE endpoints SET next_run_at = now() + $2::interval WHERE id = ANY ($1::uuid[])', [ids, offset]);
  }

  async function rowsOf(ids: readonly string[]): Promise<Map<string, EndpointRow>> {
    const { rows } = await database().pool.query<RawEndpointRow>('SELECT * FROM endpoints WHERE id = ANY ($1::uuid[])', [ids]);
    return new Map(rows.map((raw) => [raw.id, toEndpointRow(raw)]));
  }

  async function rowOf(id: string): Promise<EndpointRow> {
    const row = (await rowsOf([id])).get(id);
    if (!row) throw new Error(`no endpoint ${id}`);
    return row;
  }

  function claim(worker: string, limit = 1_000, horizon = new Date(), buckets: readonly number[] = ALL_BUCKETS) {
    return claimDue(database().pool, { worker, limit, leaseMs: LEASE_MS, horizon, buckets });
  }

  /** Claims `ids` for `worker` and marks them running; returns the rows as they are now. */
  async function claimAndRun(worker: string, ids: readonly string[]): Promise<Map<string, EndpointRow>> {
    await database().pool.query("UPDATE endpoints SET next_run_at = now() + interval '1 hour' WHERE NOT id = ANY ($1::uuid[])", [ids]);
    await setNextRun(ids, '-1 minute');
    const claimed = await claim(worker);
    expect(idsOf(claimed)).toEqual(sorted(ids));
    expect(await markRunning(database().pool, worker, claimed)).toBe(ids.length);
    return rowsOf(ids);
  }

  return { seed, setNextRun, rowsOf, rowOf, claim, claimAndRun };
}
