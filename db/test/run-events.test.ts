import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { v7 } from 'uuid';
import {
  advanceCursor,
  commitMachines,
  countRunEvents,
  getAnalysis,
  insertAnalyses,
  leaseCursor,
  listAnalyses,
  newId,
  plannerEndpoints,
  prunePlanner,
  readRunEvents,
  releaseCursor,
  RUN_EVENTS_CHANNEL,
  runEventIds,
  runEventsByIds,
  startListener,
  uuid7Floor,
  uuid7Time,
  type Analysis,
  type Listener,
  type RunRecord,
} from '@tickwise/db';
import { runEventSchema } from '@tickwise/events';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { applyJob, endpointId } from '../../test/support/scheduler.ts';
import { waitFor } from '../../test/support/wait.ts';

const DAY_MS = 86_400_000;

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

function runRecord(overrides: Partial<RunRecord> = {}): RunRecord {
  const slot = new Date('2024-05-01T12:00:00.000Z');
  return {
    id: newId(),
    endpointId: newId(),
    jobId: newId(),
    slot,
    attempt: 1,
    lastAttempt: true,
    worker: 'node-1',
    status: 'succeeded',
    httpStatus: 200,
    durationMs: 12.5,
    startedAt: new Date(slot.getTime() + 37),
    finishedAt: new Date(slot.getTime() + 49),
    errorKind: null,
    errorMessage: null,
    responseBody: 'ok',
    responseTruncated: false,
    plannedSource: 'baseline',
    retryAfterMs: null,
    ...overrides,
  };
}

async function outboxRows(ids: readonly string[]) {
  const { rows } = await db.pool.query<{ id: string; aggregate_type: string; aggregate_id: string; type: string; payload: unknown }>(
    'SELECT id, aggregate_type, aggregate_id, type, payload FROM run_events WHERE id = ANY ($1::uuid[]) ORDER BY id',
    [ids],
  );
  return rows;
}

describe('the run-event outbox written by tickwise_commit', () => {
  it('writes one event per new run, in the documented schema', async () => {
    const run = runRecord({ retryAfterMs: 1_500 });
    await commitMachines(db.pool, null, [run], []);
    const rows = await outboxRows([run.id]);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ id: run.id, aggregate_type: 'endpoint', aggregate_id: run.endpointId, type: 'run.finished' });
    expect(runEventSchema.parse(rows[0]!.payload)).toEqual({
      schema_version: 1,
      type: 'run.finished',
      event_id: run.id,
      run_id: run.id,
      endpoint_id: run.endpointId,
      job_id: run.jobId,
      status: 'succeeded',
      http_status: 200,
      duration_ms: 12.5,
      scheduled_at: '2024-05-01T12:00:00.000Z',
      started_at: '2024-05-01T12:00:00.037Z',
      finished_at: '2024-05-01T12:00:00.049Z',
      lateness_ms: 37,
      error_kind: null,
      attempt: 1,
      last_attempt: true,
      planned_source: 'baseline',
      retry_after_ms: 1_500,
      worker: 'node-1',
    });
  });

  it('writes a failed run without an answer as a valid event', async () => {
    const run = runRecord({ status: 'failed', httpStatus: null, errorKind: 'timeout', errorMessage: 'timed out', attempt: 2, plannedSource: null, responseBody: null });
    await commitMachines(db.pool, null, [run], []);
    const [row] = await outboxRows([run.id]);
    expect(runEventSchema.parse(row!.payload)).toMatchObject({ status: 'failed', http_status: null, error_kind: 'timeout', attempt: 2, planned_source: null, retry_after_ms: null });
  });

  it('writes nothing more when the same run is committed again', async () => {
    const run = runRecord();
    await commitMachines(db.pool, null, [run], []);
    const [before] = await outboxRows([run.id]);
    const other = runRecord();
    await commitMachines(db.pool, null, [{ ...run, worker: 'node-2', durationMs: 99 }, other], []);
    await commitMachines(db.pool, null, [run], []);
    const rows = await outboxRows([run.id, other.id]);
    expect(rows.map((row) => row.id).sort()).toEqual([run.id, other.id].sort());
    expect(rows.find((row) => row.id === run.id)).toEqual(before);
  });

  describe('NOTIFY', () => {
    let listener: Listener | undefined;
    afterEach(async () => {
      await listener?.close();
      listener = undefined;
    });

    it(`notifies '${RUN_EVENTS_CHANNEL}' when runs are recorded, and only then`, async () => {
      const received: string[] = [];
      listener = startListener({ connectionString: db.url, channels: [RUN_EVENTS_CHANNEL], onNotify: (channel, payload) => received.push(`${channel}:${payload}`) });
      await waitFor('listening', () => listener?.status === 'listening');
      // A commit of machines only (here: none at all) records no run and wakes nobody...
      await db.pool.query("SELECT * FROM tickwise_commit(NULL, '[]'::jsonb, '[]'::jsonb)");
      // ...a commit of runs does; the marker shows the first would have arrived by then.
      await commitMachines(db.pool, null, [runRecord(), runRecord()], []);
      await waitFor('the notification', () => received.length >= 1);
      await commitMachines(db.pool, null, [runRecord()], []);
      await waitFor('the second notification', () => received.length >= 2);
      expect(received).toEqual([`${RUN_EVENTS_CHANNEL}:`, `${RUN_EVENTS_CHANNEL}:`]);
    });
  });
});

describe('reading the outbox', () => {
  it('reads in id order from a position, counts and fetches by id', async () => {
    await db.pool.query('DELETE FROM run_events');
    const base = Date.now();
    const runs = [3, 1, 2, 0].map((n) => runRecord({ id: v7({ msecs: base + n }) }));
    await commitMachines(db.pool, null, runs, []);
    const ids = runs.map((run) => run.id).sort();
    expect((await readRunEvents(db.pool, null, 10)).map((row) => row.id)).toEqual(ids);
    expect((await readRunEvents(db.pool, null, 2)).map((row) => row.id)).toEqual(ids.slice(0, 2));
    expect((await readRunEvents(db.pool, ids[1]!, 10)).map((row) => row.id)).toEqual(ids.slice(2));
    expect(await readRunEvents(db.pool, ids[3]!, 10)).toEqual([]);
    const [first] = await readRunEvents(db.pool, null, 1);
    expect(runEventSchema.parse(first!.payload).run_id).toBe(ids[0]);

    expect(await countRunEvents(db.pool, ids[0]!, ids[3]!)).toBe(3);
    expect(await runEventIds(db.pool, ids[0]!, ids[2]!)).toEqual(ids.slice(1, 3));
    expect((await runEventsByIds(db.pool, [ids[3]!, ids[1]!, newId()])).map((row) => row.id)).toEqual([ids[1], ids[3]]);
    expect(await runEventsByIds(db.pool, [])).toEqual([]);
  });
});

describe('uuid7Floor and uuid7Time', () => {
  it('round-trip a time to the millisecond', () => {
    for (const at of [new Date(0), new Date('2024-05-01T12:00:00.123Z'), new Date(Date.now())]) {
      expect(uuid7Time(uuid7Floor(at))).toEqual(at);
    }
    // Before the epoch there is no UUIDv7: the floor is the smallest.
    expect(uuid7Floor(new Date(-5))).toBe('00000000-0000-7000-8000-000000000000');
  });

  it('bound the ids made in a millisecond, as the database function does', async () => {
    const before = Date.now();
    const id = newId();
    const after = Date.now();
    expect(uuid7Time(id).getTime()).toBeGreaterThanOrEqual(before);
    expect(uuid7Time(id).getTime()).toBeLessThanOrEqual(after);
    const made = uuid7Time(id);
    expect(uuid7Floor(made) <= id).toBe(true);
    expect(id < uuid7Floor(new Date(made.getTime() + 1))).toBe(true);
    const at = new Date('2024-05-01T12:00:00.123Z');
    // The SQL floor leaves the variant bits at zero: a different uuid, the same bound (no UUIDv7
    // of that millisecond lies between the two, nor any of another millisecond).
    const { rows } = await db.pool.query<{ floor: string; below: boolean }>('SELECT tickwise_uuid7_floor($1)::text AS floor, tickwise_uuid7_floor($1) <= $2::uuid AS below', [at, uuid7Floor(at)]);
    expect(rows[0]!.below).toBe(true);
    expect(uuid7Time(rows[0]!.floor)).toEqual(at);
  });
});

describe('the cursor lease', () => {
  async function expire(name: string) {
    await db.pool.query("UPDATE planner_cursors SET lease_expires_at = now() - interval '1 second' WHERE name = $1", [name]);
  }

  it('is held by one owner until it expires or is released, and only the owner moves the position', async () => {
    expect(await leaseCursor(db.pool, 'c1', 'a', 30_000)).toEqual({ position: null });
    expect(await leaseCursor(db.pool, 'c1', 'b', 30_000)).toBeNull();
    const position = newId();
    expect(await advanceCursor(db.pool, 'c1', 'b', position)).toBe(false);
    expect(await advanceCursor(db.pool, 'c1', 'a', position)).toBe(true);
    // Renewing returns the stored position.
    expect(await leaseCursor(db.pool, 'c1', 'a', 30_000)).toEqual({ position });

    await expire('c1');
    expect(await leaseCursor(db.pool, 'c1', 'b', 30_000)).toEqual({ position });
    expect(await leaseCursor(db.pool, 'c1', 'a', 30_000)).toBeNull();
    expect(await advanceCursor(db.pool, 'c1', 'a', newId())).toBe(false);

    // Only the owner releases it; then anyone takes it at once.
    await releaseCursor(db.pool, 'c1', 'a');
    expect(await leaseCursor(db.pool, 'c1', 'a', 30_000)).toBeNull();
    await releaseCursor(db.pool, 'c1', 'b');
    expect(await leaseCursor(db.pool, 'c1', 'a', 30_000)).toEqual({ position });
  });

  it('keeps one position per name', async () => {
    const position = newId();
    await leaseCursor(db.pool, 'c2', 'a', 30_000);
    await advanceCursor(db.pool, 'c2', 'a', position);
    expect(await leaseCursor(db.pool, 'c3', 'a', 30_000)).toEqual({ position: null });
    expect(await leaseCursor(db.pool, 'c2', 'a', 30_000)).toEqual({ position });
  });

  it('gives an expired lease to exactly one of two owners asking at once', async () => {
    await leaseCursor(db.pool, 'c4', 'a', 30_000);
    await expire('c4');
    const results = await Promise.all(['b', 'c', 'd'].map((owner) => leaseCursor(db.pool, 'c4', owner, 30_000)));
    expect(results.filter((result) => result !== null)).toHaveLength(1);
  });
});

function analysis(id: string, endpointId: string, overrides: Partial<Analysis> = {}): Analysis {
  return {
    id,
    endpointId,
    planner: 'heuristic',
    trigger: 'periodic',
    inputs: { runs: 3 },
    toolCalls: [],
    reasoning: 'nothing to do',
    model: null,
    tokensIn: null,
    tokensOut: null,
    durationMs: 1.25,
    outcome: 'no_change',
    outcomeDetail: null,
    hintIds: [],
    ...overrides,
  };
}

describe('prunePlanner', () => {
  it('deletes run events and analyses below the floor of the time only, at most the limit of each', async () => {
    await db.pool.query('DELETE FROM run_events');
    await db.pool.query('DELETE FROM analyses');
    const now = Date.now();
    const old = [10, 9, 8].map((days) => v7({ msecs: now - days * DAY_MS }));
    const recent = [6, 1, 0].map((days) => v7({ msecs: now - days * DAY_MS }));
    await commitMachines(db.pool, null, [...old, ...recent].map((id) => runRecord({ id })), []);
    const endpoint = newId();
    await insertAnalyses(db.pool, [...old, ...recent].map((id) => analysis(id, endpoint)));

    const before = new Date(now - 7 * DAY_MS);
    expect(await prunePlanner(db.pool, before, 2)).toEqual({ events: 2, analyses: 2 });
    expect(await prunePlanner(db.pool, before, 2)).toEqual({ events: 1, analyses: 1 });
    expect(await prunePlanner(db.pool, before, 2)).toEqual({ events: 0, analyses: 0 });
    const { rows: events } = await db.pool.query<{ id: string }>('SELECT id FROM run_events ORDER BY id');
    expect(events.map((row) => row.id)).toEqual([...recent].sort());
    const { rows: analyses } = await db.pool.query<{ id: string }>('SELECT id FROM analyses ORDER BY id');
    expect(analyses.map((row) => row.id)).toEqual([...recent].sort());
    // The runs themselves are the scheduler's retention, not this one.
    const { rows: runs } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM runs WHERE id = ANY ($1::uuid[])', [old]);
    expect(runs[0]!.n).toBe(3);
  });
});

describe('analyses', () => {
  it('are stored once per id and listed newest first, paged by id', async () => {
    const endpoint = newId();
    const ids = [newId(), newId(), newId()];
    const hintId = newId();
    const first = analysis(ids[0]!, endpoint, {
      planner: 'llm',
      trigger: 'failure_streak',
      inputs: { runs: 5, last_run: { status: 'failed' } },
      toolCalls: [{ name: 'propose_interval', arguments: { interval: '1m' }, accepted: true }],
      reasoning: 'failing: slowing down',
      model: 'm-1',
      tokensIn: 120,
      tokensOut: 30,
      outcome: 'hint',
      outcomeDetail: 'fallback to the heuristic: timeout',
      hintIds: [hintId],
    });
    await insertAnalyses(db.pool, [first, analysis(ids[1]!, endpoint), analysis(ids[2]!, endpoint), analysis(newId(), newId())]);
    await insertAnalyses(db.pool, [{ ...first, reasoning: 'changed' }]);
    await insertAnalyses(db.pool, []);

    const stored = await getAnalysis(db.pool, ids[0]!);
    expect(stored).toEqual({ ...first, createdAt: expect.any(Date) });
    expect(await getAnalysis(db.pool, newId())).toBeNull();
    expect((await listAnalyses(db.pool, endpoint, { limit: 10 })).map((row) => row.id)).toEqual([...ids].reverse());
    expect((await listAnalyses(db.pool, endpoint, { limit: 1 })).map((row) => row.id)).toEqual([ids[2]]);
    expect((await listAnalyses(db.pool, endpoint, { limit: 10, before: ids[2]! })).map((row) => row.id)).toEqual([ids[1], ids[0]]);
  });

  it('drops NUL characters a model may send, which PostgreSQL refuses in text and jsonb', async () => {
    const id = newId();
    await insertAnalyses(db.pool, [
      analysis(id, newId(), { planner: 'llm', reasoning: 'slow\u0000 down', toolCalls: [{ name: 'propose_interval', arguments: { why: 'a\u0000b' }, accepted: false, error: 'bad\u0000' }] }),
    ]);
    expect(await getAnalysis(db.pool, id)).toMatchObject({ reasoning: 'slow down', toolCalls: [{ name: 'propose_interval', arguments: { why: 'ab' }, accepted: false, error: 'bad' }] });
  });
});

describe('plannerEndpoints', () => {
  it('reads the spec and the last runs of each endpoint, oldest first; unknown ids are absent', async () => {
    await applyJob(db, 'reads', [
      { name: 'a', url: 'http://127.0.0.1:1/a', schedule: { every: '10s' } },
      { name: 'b', url: 'http://127.0.0.1:1/b', schedule: { every: '1m' } },
    ]);
    const a = await endpointId(db, 'reads', 'a');
    const b = await endpointId(db, 'reads', 'b');
    const { rows } = await db.pool.query<{ job_id: string }>('SELECT job_id FROM endpoints WHERE id = $1', [a]);
    const jobId = rows[0]!.job_id;
    const base = Date.now() - 60_000;
    const runsOfA = [0, 1, 2, 3].map((n) =>
      runRecord({
        id: v7({ msecs: base + n }),
        endpointId: a,
        jobId,
        status: n >= 2 ? 'failed' : 'succeeded',
        httpStatus: n === 3 ? 429 : n === 2 ? 500 : 200,
        retryAfterMs: n === 3 ? 2_000 : null,
        errorKind: n >= 2 ? 'http_status' : null,
        // The third run was an attempt a retry followed (the fourth).
        lastAttempt: n !== 2,
      }),
    );
    await commitMachines(db.pool, null, runsOfA, []);

    const found = await plannerEndpoints(db.pool, [a, b, a, newId()], 3);
    expect([...found.keys()].sort()).toEqual([a, b].sort());
    const readA = found.get(a)!;
    expect(readA).toMatchObject({ id: a, jobId, archived: false, spec: { url: 'http://127.0.0.1:1/a', schedule: { kind: 'every', everyMs: 10_000 } } });
    expect(readA.recentRuns.map((run) => run.id)).toEqual(runsOfA.slice(1).map((run) => run.id));
    expect(readA.recentRuns[2]).toEqual({
      id: runsOfA[3]!.id,
      status: 'failed',
      httpStatus: 429,
      durationMs: 12.5,
      latenessMs: 37,
      errorKind: 'http_status',
      retryAfterMs: 2_000,
      finishedAt: runsOfA[3]!.finishedAt,
      lastAttempt: true,
    });
    expect(readA.recentRuns[1]!.lastAttempt).toBe(false);
    expect(found.get(b)!.recentRuns).toEqual([]);

    expect((await plannerEndpoints(db.pool, [a], 0)).get(a)!.recentRuns).toEqual([]);
    expect(await plannerEndpoints(db.pool, [], 3)).toEqual(new Map());

    // Archived by an apply that no longer lists it.
    await applyJob(db, 'reads', [{ name: 'a', url: 'http://127.0.0.1:1/a', schedule: { every: '10s' } }]);
    expect((await plannerEndpoints(db.pool, [b], 0)).get(b)!.archived).toBe(true);
  });
});
