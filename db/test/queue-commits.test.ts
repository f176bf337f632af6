/** commitMachines: writing machines, runs and history under the lease and version checks. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { commitMachines, machineHistory, newId, type MachineWrite, type Pool } from '@tickwise/db';
import { planWrite } from '@tickwise/catalog';
import { persistSnapshot, restoreSnapshot, stateOf, step, type EndpointEvent } from '@tickwise/machines';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { finishWrite, routineWrite, runOf, queueHelpers } from './queue-support.ts';

let db: TestDatabase;

beforeEach(async () => {
  db = await createTestDatabase();
});
afterEach(async () => {
  await db.drop();
});

const { seed, setNextRun, rowsOf, rowOf, claim, claimAndRun } = queueHelpers(() => db);

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

  it('keeps a routine cycle with its run instead of a history row, and reads back the very steps it made', async () => {
    const [id] = await seed(1);
    const row = (await claimAndRun('worker-a', [id!])).get(id!)!;
    const { rows: before } = await db.pool.query<{ transition_seq: string }>('SELECT transition_seq FROM endpoints WHERE id = $1', [id]);
    const seq = Number(before[0]!.transition_seq);
    const historyRows = async () => (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM endpoint_transitions WHERE endpoint_id = $1', [id])).rows[0]!.n;
    const rowsBefore = await historyRows();
    // Called on time (claimed a minute late, the machine would skip the slots missed: not routine).
    const slot = row.claimedSlot!.getTime();
    const run = { ...runOf(row, 'worker-a', 'succeeded'), startedAt: new Date(slot + 5), finishedAt: new Date(slot + 17) };
    const write = routineWrite(row, run, new Date(slot - 150));

    // Repeated (a retried statement): the run is recorded once and the second machine write is refused.
    expect((await commitMachines(db.pool, 'worker-a', [run], [write])).get(id!)?.version).toBe(row.version + 1);
    expect((await commitMachines(db.pool, 'worker-a', [run], [write])).size).toBe(0);
    expect(await historyRows()).toBe(rowsBefore);
    const { rows: runs } = await db.pool.query('SELECT cycle_seq::int, claimed_at, plan_reason, next_run_at FROM runs WHERE endpoint_id = $1', [id]);
    expect(runs).toEqual([{ cycle_seq: seq + 1, claimed_at: new Date(write.transitions[0]!.at), plan_reason: write.reason, next_run_at: write.nextRunAt }]);

    // The next write is not routine (a retry's): a history row, after the cycle in the history.
    const next = (await claimAndRun('worker-a', [id!])).get(id!)!;
    const failed = runOf(next, 'worker-a', 'failed');
    const retry = finishWrite(next, 'failed', failed.id);
    expect((await commitMachines(db.pool, 'worker-a', [failed], [retry])).size).toBe(1);
    expect(await historyRows()).toBe(rowsBefore + 1);
    const history = await machineHistory(db.pool, id!, 2);
    const stored = (steps: readonly { event: string; at: string; from: string | null; to: string; reason?: string | null; runId?: string | null; nextRunAt?: string | null }[], seqOf: number) =>
      steps.map((s) => ({ seq: seqOf, from: s.from, to: s.to, event: s.event, at: new Date(s.at), reason: s.reason ?? null, nextRunAt: s.nextRunAt ? new Date(s.nextRunAt) : null, runId: s.runId ?? null, worker: 'worker-a' }));
    expect(history).toEqual([...stored(write.transitions, seq + 1), ...stored(retry.transitions, seq + 2)]);
    // Asked for the last write only: the routine cycle is left out.
    expect((await machineHistory(db.pool, id!, 1)).map((s) => s.seq)).toEqual([seq + 2, seq + 2]);
  });

  it("stores every field of a run and of a machine write, read by position, as the previous release's tickwise_commit stores them by name", async () => {
    const ids = await seed(2);
    const rows = await claimAndRun('worker-a', ids);
    // Every run field set (none left to a default), and a write with a notice and a hint version.
    const runs = ids.map((id) => ({
      ...runOf(rows.get(id)!, 'worker-a', 'failed'),
      lastAttempt: false,
      durationMs: 12.75,
      responseBody: 'busy',
      responseTruncated: true,
      plannedSource: 'retry',
      retryAfterMs: 1500,
    }));
    const writes = ids.map((id, index) => ({
      ...finishWrite(rows.get(id)!, 'failed', runs[index]!.id),
      plannedHintVersion: 3,
      notice: { id: newId(), kind: 'paused' as const, detail: { by: 'breaker' as const, reason: 'failing', until: null } },
    }));
    expect((await commitMachines(db.pool, 'worker-a', [runs[0]!], [writes[0]!])).size).toBe(1);
    const snake = (value: object) => Object.fromEntries(Object.entries(value).map(([key, field]) => [key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`), field]));
    const { rowCount } = await db.pool.query('SELECT * FROM tickwise_commit($1, $2::jsonb, $3::jsonb)', [
      'worker-a',
      JSON.stringify([snake(runs[1]!)]),
      JSON.stringify([{ ...snake(writes[1]!), routine_claimed_at: null, routine_run_id: null }]),
    ]);
    expect(rowCount).toBe(1);

    const stored = async (index: number) => {
      const id = ids[index]!;
      const run = (await db.pool.query('SELECT * FROM runs WHERE endpoint_id = $1', [id])).rows[0];
      const machine = (await db.pool.query('SELECT state, snapshot, next_run_at, reason, claimed_slot, attempt, planned_hint_version, version FROM endpoints WHERE id = $1', [id])).rows[0];
      const notice = (await db.pool.query('SELECT id, kind, detail FROM endpoint_notices WHERE endpoint_id = $1', [id])).rows[0];
      const history = (await db.pool.query('SELECT from_state, to_state, steps, reason, run_id FROM endpoint_transitions WHERE endpoint_id = $1 ORDER BY seq DESC LIMIT 1', [id])).rows[0];
      return { run, machine, notice, history };
    };
    const [byPosition, byName] = [await stored(0), await stored(1)];
    expect(byPosition.run).toEqual({
      ...snake(runs[0]!),
      cycle_seq: null,
      claimed_at: null,
      plan_reason: null,
      next_run_at: null,
      retry_after_ms: '1500',
    });
    expect(byPosition.notice).toEqual({ id: writes[0]!.notice.id, kind: 'paused', detail: writes[0]!.notice.detail });
    expect(byPosition.machine).toMatchObject({ state: writes[0]!.state, reason: writes[0]!.reason, planned_hint_version: 3, version: rows.get(ids[0]!)!.version + 1 });
    expect(byPosition.history).toEqual({ from_state: 'running', to_state: writes[0]!.state, steps: JSON.parse(JSON.stringify(writes[0]!.transitions)), reason: writes[0]!.reason, run_id: runs[0]!.id });
    expect(byPosition.machine.next_run_at).toEqual(writes[0]!.nextRunAt);
    expect(byName.machine.next_run_at).toEqual(writes[1]!.nextRunAt);
    // The two functions store the same things: only the ids and the times (each write planned at its own now) differ.
    const withoutIds = ({ run, machine, notice, history }: typeof byPosition) => ({
      run: { ...run, id: undefined, endpoint_id: undefined, started_at: undefined, finished_at: undefined },
      machine: { ...machine, snapshot: undefined, next_run_at: undefined },
      notice: { ...notice, id: undefined },
      history: { ...history, steps: undefined, run_id: undefined },
    });
    expect(withoutIds(byName)).toEqual(withoutIds(byPosition));
  });

  it("takes the previous release's objects with the optional keys left out, as it did before it called tickwise_commit_rows", async () => {
    const [id] = await seed(1);
    const row = (await claimAndRun('worker-a', [id!])).get(id!)!;
    const run = runOf(row, 'worker-a', 'succeeded');
    const { transitions: _steps, notice: _notice, plannedHintVersion: _hint, attempt: _attempt, ...write } = finishWrite(row, 'succeeded', run.id);
    const snake = (value: object) => Object.fromEntries(Object.entries(value).map(([key, field]) => [key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`), field]));
    const { rows } = await db.pool.query('SELECT * FROM tickwise_commit($1, $2::jsonb, $3::jsonb)', ['worker-a', JSON.stringify([snake(run)]), JSON.stringify([snake(write)])]);
    expect(rows).toEqual([{ endpoint_id: id, version: row.version + 1, paused_reason: null, paused_until: null }]);
    const stored = (await db.pool.query('SELECT state, attempt, planned_hint_version FROM endpoints WHERE id = $1', [id])).rows[0];
    expect(stored).toEqual({ state: write.state, attempt: row.attempt, planned_hint_version: row.plannedHintVersion });
    expect((await db.pool.query('SELECT status FROM runs WHERE id = $1', [run.id])).rows).toEqual([{ status: 'succeeded' }]);
    expect((await db.pool.query('SELECT count(*)::int AS n FROM run_events WHERE id = $1', [run.id])).rows[0].n).toBe(1);
    // No steps, so no history row; no notice, so none written.
    expect((await db.pool.query('SELECT count(*)::int AS n FROM endpoint_transitions WHERE endpoint_id = $1 AND run_id = $2', [id, run.id])).rows[0].n).toBe(0);
    expect((await db.pool.query('SELECT count(*)::int AS n FROM endpoint_notices WHERE endpoint_id = $1', [id])).rows[0].n).toBe(0);
  });

  it('finds the machines it writes by key, never by reading the whole table, on a table of 1,000 endpoints (0017)', async () => {
    const ids = await seed(1_000);
    await db.pool.query('ANALYZE endpoints');
    const client = await db.pool.connect();
    const seqScans = async () => Number((await client.query("SELECT seq_scan FROM pg_stat_xact_user_tables WHERE relname = 'endpoints'")).rows[0].seq_scan);
    try {
      // Eight commits on one connection: PL/pgSQL plans the first five for their parameters, then may keep a generic plan.
      for (const id of ids.slice(0, 8)) {
        const row = (await claimAndRun('worker-a', [id])).get(id)!;
        const run = runOf(row, 'worker-a', 'succeeded');
        // Read in the same transaction: the counts of this backend that are not yet reported, whatever ran before on it.
        await client.query('BEGIN');
        const before = await seqScans();
        const committed = await commitMachines(client as unknown as Pool, 'worker-a', [run], [finishWrite(row, 'succeeded', run.id)]);
        const after = await seqScans();
        await client.query('COMMIT');
        expect(committed.size).toBe(1);
        expect(after - before).toBe(0);
      }
    } finally {
      client.release();
    }
  });
});
