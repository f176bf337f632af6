import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { v7 } from 'uuid';
import { commitMachines, newId, type RunRecord } from '@tickwise/db';
import type { RunEvent } from '@tickwise/events';
import { invalidConfig, TickwiseError } from '@tickwise/platform';
import { DatabaseRunEventSource, type DatabaseSourceOptions } from '../src/sources/database-source.ts';
import type { RunEventBatch } from '../src/sources/types.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.ts';
import { memoryLogger } from '../../../test/support/logger.ts';
import { waitFor } from '../../../test/support/wait.ts';

const ENDPOINT = newId();
const JOB = newId();

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

function runRecord(id: string): RunRecord {
  const finishedAt = new Date();
  return {
    id,
    endpointId: ENDPOINT,
    jobId: JOB,
    slot: new Date(finishedAt.getTime() - 20),
    attempt: 1,
    lastAttempt: true,
    worker: 'node-1',
    status: 'succeeded',
    httpStatus: 200,
    durationMs: 5,
    startedAt: new Date(finishedAt.getTime() - 5),
    finishedAt,
    errorKind: null,
    errorMessage: null,
    responseBody: null,
    responseTruncated: false,
    plannedSource: null,
    retryAfterMs: null,
  };
}

/** Records runs the way scheduler nodes do; returns their ids. */
async function commit(ids: string[] = [newId()]): Promise<string[]> {
  await commitMachines(db.pool, null, ids.map(runRecord), []);
  return ids;
}

async function storedPosition(cursor: string): Promise<{ position: string | null; lease_owner: string | null } | undefined> {
  const { rows } = await db.pool.query<{ position: string | null; lease_owner: string | null }>('SELECT position, lease_owner FROM planner_cursors WHERE name = $1', [cursor]);
  return rows[0];
}

interface Started {
  source: DatabaseRunEventSource;
  owner: string;
  log: ReturnType<typeof memoryLogger>;
  /** Run ids of every batch handled successfully, in delivery order. */
  delivered: string[];
  stop(): Promise<void>;
}

const running = new Set<Started>();
let cursorCount = 0;
let ownerCount = 0;
let cursor: string;

beforeEach(async () => {
  // Each test reads the outbox from the start under a cursor of its own.
  await db.pool.query('DELETE FROM run_events');
  cursor = `test-${++cursorCount}`;
});
afterEach(async () => {
  for (const started of [...running]) await started.stop();
});

function start(options: Partial<DatabaseSourceOptions> = {}, handler?: (batch: RunEventBatch) => Promise<void>): Started {
  const log = memoryLogger();
  const owner = `owner-${++ownerCount}`;
  const source = new DatabaseRunEventSource({ pool: db.pool, connectionString: db.url, owner, cursorName: cursor, pollIntervalMs: 50, log, ...options });
  const delivered: string[] = [];
  const started: Started = {
    source,
    owner,
    log,
    delivered,
    async stop() {
      running.delete(started);
      await source.stop();
    },
  };
  running.add(started);
  void source.start(async (batch) => {
    await handler?.(batch);
    delivered.push(...batch.events.map((event: RunEvent) => event.run_id));
  });
  return started;
}

function waitDelivered(started: Started, ids: readonly string[], what = `${ids.length} events`) {
  return waitFor(
    () => `${what} (delivered: ${started.delivered.length}; log: ${started.log.lines.join(' | ')})`,
    () => ids.every((id) => started.delivered.includes(id)),
  );
}

const sorted = (ids: readonly string[]) => [...ids].sort();

describe('DatabaseRunEventSource', () => {
  it('delivers committed events once each, in id order, those committed before it started included', async () => {
    const before = await commit([newId(), newId()]);
    const started = start();
    await waitDelivered(started, before);
    const after = [...(await commit([newId(), newId(), newId()])), ...(await commit())];
    await waitDelivered(started, after);
    expect(started.delivered).toEqual(sorted([...before, ...after]));
    await waitFor('nothing waiting', () => started.source.lag() === 0);
    // The position is stored once the batch is handled.
    await waitFor('the stored position', async () => (await storedPosition(cursor))?.position === after.at(-1));
  });

  it('is woken by NOTIFY when the LISTEN connection is on', async () => {
    // Polls only every minute: what arrives sooner came through NOTIFY.
    const started = start({ pollIntervalMs: 60_000, leaseMs: 600_000 });
    await waitFor('listening', () => started.log.lines.some((line) => line.includes('woken by NOTIFY on new run events')));
    const first = await commit();
    await waitDelivered(started, first);
    const second = await commit([newId(), newId()]);
    await waitDelivered(started, second);
    expect(started.delivered).toEqual([...first, ...second]);
  });

  it('delivers by polling with LISTEN off, and opens no LISTEN connection', async () => {
    const started = start({ listen: false });
    const ids = await commit([newId(), newId()]);
    await waitDelivered(started, ids);
    const more = await commit();
    await waitDelivered(started, more);
    expect(started.delivered).toEqual([...ids, ...more]);
    const { rows } = await db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'tickwise-listener'");
    expect(rows[0]!.n).toBe(0);
    expect(started.log.lines.join('\n')).not.toContain('NOTIFY');
  });

  it('redelivers a batch whose handler failed, and loses nothing', async () => {
    let failures = 0;
    const attempts: string[][] = [];
    let poison: string | undefined;
    const started = start({}, async (batch) => {
      const ids = batch.events.map((event) => event.run_id);
      attempts.push(ids);
      if (poison && ids.includes(poison) && failures === 0) {
        failures++;
        throw new Error('the hints could not be written');
      }
    });
    const first = await commit([newId(), newId()]);
    await waitDelivered(started, first);
    // Named before it is committed: the source may hand it over before commit() returns.
    poison = newId();
    await commit([poison]);
    const after = await commit();
    await waitDelivered(started, [poison!, ...after]);

    expect(failures).toBe(1);
    expect(attempts.filter((ids) => ids.includes(poison!))).toHaveLength(2);
    expect(sorted([...new Set(started.delivered)])).toEqual(sorted([...first, poison!, ...after]));
    expect(started.log.lines.some((line) => line.startsWith('error reading run events failed; retrying') && line.includes('the hints could not be written'))).toBe(true);
    await waitFor('the stored position past the failed batch', async () => (await storedPosition(cursor))?.position === after[0]);
  });

  it('resumes after the stored position under the same cursor: only the last late window may come again', async () => {
    const now = Date.now();
    // Two events well before the window (1 s) of the last one, two inside it.
    const old = [v7({ msecs: now - 5_000 }), v7({ msecs: now - 4_000 })];
    const recent = [v7({ msecs: now - 10 }), v7({ msecs: now })];
    await commit([...old, ...recent]);
    const first = start({ lateWindowMs: 1_000 });
    await waitDelivered(first, [...old, ...recent]);
    await first.stop();
    expect(await storedPosition(cursor)).toEqual({ position: recent[1], lease_owner: null });

    const fresh = await commit();
    const second = start({ lateWindowMs: 1_000 });
    await waitDelivered(second, fresh);
    expect(second.delivered.filter((id) => old.includes(id))).toEqual([]);
    expect(second.delivered.every((id) => [...recent, ...fresh].includes(id))).toBe(true);
    expect(new Set(second.delivered).size).toBe(second.delivered.length);
  });

  it('delivers an event that commits after events with higher ids were read', async () => {
    const late = newId();
    const started = start();
    const early = await commit([newId(), newId()]);
    await waitDelivered(started, early);
    await commit([late]);
    await waitDelivered(started, [late], 'the late event');
    const after = await commit();
    await waitDelivered(started, after);
    expect(started.delivered).toEqual([...early, late, ...after]);
    // The position never goes back.
    await waitFor('the stored position', async () => (await storedPosition(cursor))?.position === after[0]);
  });

  it('lets one source read a cursor at a time; another takes over when it stops', async () => {
    const first = start({ leaseMs: 30_000 });
    const ids = await commit();
    await waitDelivered(first, ids);
    const second = start({ leaseMs: 30_000 });
    const more = await commit([newId(), newId()]);
    await waitDelivered(first, more);
    // The second asks for the lease every 50 ms: it has been refused and has read nothing.
    expect((await storedPosition(cursor))?.lease_owner).toBe(first.owner);
    expect(second.delivered).toEqual([]);
    expect(second.log.lines.some((line) => line.includes('reading run events from the database'))).toBe(false);

    await first.stop();
    const last = await commit();
    await waitDelivered(second, last);
    expect(first.delivered).not.toContain(last[0]);
    // Besides the new one, at most the late window behind the first's position comes again.
    expect(second.delivered.every((id) => [...ids, ...more, ...last].includes(id))).toBe(true);
    expect((await storedPosition(cursor))?.lease_owner).toBe(second.owner);
  });

  it('skips a row that does not decode, with a log line, and goes on', async () => {
    const started = start();
    const [good] = await commit();
    await waitDelivered(started, [good!]);
    const broken = newId();
    const empty = newId();
    const future = newId();
    await db.pool.query(
      `INSERT INTO run_events (id, aggregate_type, aggregate_id, type, payload) VALUES
         ($1, 'endpoint', $4, 'run.finished', '{"hello": "world"}'),
         ($2, 'endpoint', $4, 'run.finished', 'null'),
         ($3, 'endpoint', $4, 'run.finished', '{"schema_version": 2, "type": "run.finished"}')`,
      [broken, empty, future, ENDPOINT],
    );
    const after = await commit();
    await waitDelivered(started, after);
    expect(started.delivered).toEqual([good, ...after]);
    const warnings = started.log.lines.filter((line) => line.startsWith('warn'));
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toContain(`skipping an undecodable run event {"id":"${broken}","error":"not a run event`);
    expect(warnings[1]).toContain(`skipping an outbox row that carries no run event {"id":"${empty}"}`);
    expect(warnings[2]).toContain(`skipping an undecodable run event {"id":"${future}","error":"run event schema_version 2 is not supported`);
    await waitFor('the stored position past them', async () => (await storedPosition(cursor))?.position === after[0]);
  });

  it('waits for the batch in hand when it stops, and acknowledges it', async () => {
    let release: () => void = () => undefined;
    const handling = new Promise<void>((resolve) => (release = resolve));
    let entered = false;
    const started = start({}, async () => {
      entered = true;
      await handling;
    });
    const ids = await commit();
    await waitFor('the batch in hand', () => entered);
    const stopped = started.stop();
    release();
    await stopped;
    expect(started.delivered).toEqual(ids);
    expect(await storedPosition(cursor)).toEqual({ position: ids[0], lease_owner: null });
  });

  it('hands its cursor back when it stops, and refuses a second start', async () => {
    const started = start();
    await waitFor('the lease', async () => (await storedPosition(cursor))?.lease_owner === started.owner);
    await expect(started.source.start(async () => undefined)).rejects.toThrow(new TickwiseError('failed_precondition', 'the database source is already started', { reason: 'already_started' }));
    await started.stop();
    expect((await storedPosition(cursor))?.lease_owner).toBeNull();
  });

  it.each([
    [{ pollIntervalMs: 0 }, 'pollIntervalMs must be an integer between 1 and 3600000, got 0'],
    [{ batchSize: 1.5 }, 'batchSize must be an integer between 1 and 100000, got 1.5'],
    [{ lateWindowMs: -1 }, 'lateWindowMs must be an integer between 0 and 3600000, got -1'],
    [{ leaseMs: 50 }, 'leaseMs must be an integer between 100 and 3600000, got 50'],
    [{ cursorName: '' }, 'cursorName must be 1-100 letters, digits, ".", "_", ":" or "-", got ""'],
    [{ owner: 'two words' }, 'owner must be 1-100 letters, digits, ".", "_", ":" or "-", got "two words"'],
  ])('refuses the option %o', (options, message) => {
    const make = () => new DatabaseRunEventSource({ pool: db.pool, connectionString: db.url, owner: 'o', log: memoryLogger(), ...options });
    expect(make).toThrow(invalidConfig(message));
  });
});
