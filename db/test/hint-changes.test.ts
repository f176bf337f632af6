import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  activeHints,
  applyHintChanges,
  HINTS_CHANNEL,
  inTransaction,
  insertHint,
  listHints,
  newId,
  startListener,
  type HintChange,
  type Listener,
  type NewHint,
} from '@tickwise/db';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { applyJob, endpointId } from '../../test/support/scheduler.ts';
import { waitFor } from '../../test/support/wait.ts';

const PLANNER = ['planner:heuristic', 'planner:llm'];

let db: TestDatabase;
let a: string;
let b: string;
beforeAll(async () => {
  db = await createTestDatabase();
  await applyJob(db, 'hinted', [
    { name: 'a', url: 'http://127.0.0.1:1/a', schedule: { every: '10s' } },
    { name: 'b', url: 'http://127.0.0.1:1/b', schedule: { every: '10s' } },
  ]);
  a = await endpointId(db, 'hinted', 'a');
  b = await endpointId(db, 'hinted', 'b');
});
afterAll(async () => {
  await db.drop();
});
afterEach(async () => {
  await db.pool.query('DELETE FROM hints');
});

function interval(endpointId: string, intervalMs: number, source = 'planner:heuristic', overrides: Partial<NewHint> = {}): NewHint {
  return { id: newId(), endpointId, kind: 'interval', intervalMs, reason: `every ${intervalMs}ms`, source, expiresAt: new Date(Date.now() + 600_000), ...overrides };
}

/** Applies the changes the way the planner does: in a transaction of their own, committed. */
function apply(changes: HintChange[]): Promise<string[]> {
  return inTransaction(db.pool, (client) => applyHintChanges(client, changes));
}

async function hintVersions(): Promise<Record<string, number>> {
  const { rows } = await db.pool.query<{ id: string; hint_version: number }>('SELECT id, hint_version FROM endpoints WHERE id = ANY ($1::uuid[])', [[a, b]]);
  return Object.fromEntries(rows.map((row) => [row.id, row.hint_version]));
}

async function active(endpoint: string) {
  return (await listHints(db.pool, endpoint, { includePast: false, limit: 100 })).map((hint) => `${hint.source}:${hint.intervalMs ?? hint.at?.toISOString()}`).sort();
}

describe('applyHintChanges', () => {
  it('inserts hints linked to their analysis and bumps hint_version once per endpoint', async () => {
    const before = await hintVersions();
    const analysisId = newId();
    const first = interval(a, 20_000);
    const pause = { id: newId(), endpointId: a, kind: 'pause_until' as const, at: new Date(Date.now() + 60_000), reason: 'Retry-After', source: 'planner:llm', expiresAt: new Date(Date.now() + 60_000) };
    const touched = await apply([
      { endpointId: a, add: [first], analysisId },
      { endpointId: a, add: [pause] },
      { endpointId: b, add: [interval(b, 30_000)] },
    ]);
    expect(touched.sort()).toEqual([a, b].sort());
    expect(await hintVersions()).toEqual({ [a]: before[a]! + 1, [b]: before[b]! + 1 });
    const stored = await listHints(db.pool, a, { includePast: false, limit: 10 });
    expect(stored.map((hint) => hint.id).sort()).toEqual([first.id, pause.id].sort());
    expect(stored.find((hint) => hint.id === first.id)).toEqual({ ...first, createdAt: expect.any(Date), clearedAt: null, analysisId });
    expect(stored.find((hint) => hint.id === pause.id)).toMatchObject({ kind: 'pause_until', at: pause.at, analysisId: null });
    // The schedulers read them as live hints.
    expect((await activeHints(db.pool, [a])).get(a)?.map((hint) => hint.id).sort()).toEqual([first.id, pause.id].sort());
  });

  it("clears by source: the planner's active hints go, a person's stay", async () => {
    await apply([{ endpointId: a, add: [interval(a, 20_000), interval(a, 25_000, 'planner:llm'), interval(a, 90_000, 'manual:alice')] }]);
    const replacement = interval(a, 40_000);
    await apply([{ endpointId: a, add: [replacement], clearSources: PLANNER }]);
    expect(await active(a)).toEqual(['manual:alice:90000', 'planner:heuristic:40000']);
    const past = await listHints(db.pool, a, { includePast: true, limit: 10 });
    expect(past.filter((hint) => hint.clearedAt !== null).map((hint) => hint.intervalMs).sort()).toEqual([20_000, 25_000]);
    // A clear with nothing added leaves only the person's.
    await apply([{ endpointId: a, add: [], clearSources: PLANNER }]);
    expect(await active(a)).toEqual(['manual:alice:90000']);
  });

  it('leaves expired hints as they were (never marks them cleared)', async () => {
    const expired = interval(a, 20_000, 'planner:heuristic', { expiresAt: new Date(Date.now() - 1_000) });
    await insertHint(db.pool, expired);
    await apply([{ endpointId: a, add: [], clearSources: PLANNER }]);
    const [stored] = await listHints(db.pool, a, { includePast: true, limit: 10 });
    expect(stored).toMatchObject({ id: expired.id, clearedAt: null });
  });

  it('clears by id, on the endpoint of the change only', async () => {
    const keep = interval(a, 20_000, 'manual:alice');
    const drop = interval(a, 30_000, 'manual:alice');
    const other = interval(b, 30_000, 'manual:alice');
    await apply([{ endpointId: a, add: [keep, drop] }, { endpointId: b, add: [other] }]);
    await apply([{ endpointId: a, add: [], clearIds: [drop.id, other.id] }]);
    expect(await active(a)).toEqual(['manual:alice:20000']);
    expect(await active(b)).toEqual(['manual:alice:30000']);
  });

  it('notifies the schedulers once per call with the endpoints that exist', async () => {
    const received: string[] = [];
    const listener: Listener = startListener({ connectionString: db.url, channels: [HINTS_CHANNEL], onNotify: (_channel, payload) => received.push(payload) });
    try {
      await waitFor('listening', () => listener.status === 'listening');
      await apply([
        { endpointId: b, add: [interval(b, 20_000)] },
        { endpointId: a, add: [interval(a, 20_000)] },
        { endpointId: newId(), add: [] },
      ]);
      await apply([{ endpointId: a, add: [], clearSources: PLANNER }]);
      await waitFor('two notifications', () => received.length >= 2);
      expect(received.map((payload) => (JSON.parse(payload) as string[]).sort())).toEqual([[a, b].sort(), [a]]);
    } finally {
      await listener.close();
    }
  });

  it('splits the notification of many endpoints into payloads NOTIFY accepts', async () => {
    const many = Array.from({ length: 320 }, (_, index) => ({ name: `m${index}`, url: 'http://127.0.0.1:1/m', schedule: { every: '1m' } }));
    await applyJob(db, 'many', many);
    const { rows } = await db.pool.query<{ id: string }>("SELECT e.id FROM endpoints e JOIN jobs j ON j.id = e.job_id WHERE j.name = 'many'");
    const ids = rows.map((row) => row.id);
    const received: string[] = [];
    const listener: Listener = startListener({ connectionString: db.url, channels: [HINTS_CHANNEL], onNotify: (_channel, payload) => received.push(payload) });
    try {
      await waitFor('listening', () => listener.status === 'listening');
      const touched = await apply(ids.map((id) => ({ endpointId: id, add: [interval(id, 20_000)] })));
      expect(touched.sort()).toEqual([...ids].sort());
      await waitFor('every endpoint notified', () => received.flatMap((payload) => JSON.parse(payload) as string[]).length >= ids.length);
      expect(received.length).toBeGreaterThan(1);
      for (const payload of received) expect(Buffer.byteLength(payload)).toBeLessThan(8_000);
      expect(received.flatMap((payload) => JSON.parse(payload) as string[]).sort()).toEqual([...ids].sort());
    } finally {
      await listener.close();
    }
  });

  it('treats a hint id it has already written as done: applying a change again changes no hint', async () => {
    const change: HintChange = { endpointId: a, add: [interval(a, 20_000)], clearSources: PLANNER, analysisId: newId() };
    await apply([change]);
    const first = await listHints(db.pool, a, { includePast: true, limit: 10 });
    await apply([change]);
    await apply([change, change]);
    expect(await listHints(db.pool, a, { includePast: true, limit: 10 })).toEqual(first);
    expect(await active(a)).toEqual(['planner:heuristic:20000']);
  });

  it('ignores endpoints that do not exist: nothing written for them, the others applied', async () => {
    const ghost = newId();
    const before = await hintVersions();
    const touched = await apply([
      { endpointId: ghost, add: [interval(ghost, 20_000)], clearSources: PLANNER },
      { endpointId: b, add: [interval(b, 20_000)] },
    ]);
    expect(touched).toEqual([b]);
    const { rows } = await db.pool.query('SELECT id FROM hints WHERE endpoint_id = $1', [ghost]);
    expect(rows).toEqual([]);
    expect(await hintVersions()).toEqual({ ...before, [b]: before[b]! + 1 });
    expect(await apply([{ endpointId: ghost, add: [] }])).toEqual([]);
  });

  it('does nothing for no changes', async () => {
    const before = await hintVersions();
    expect(await apply([])).toEqual([]);
    expect(await hintVersions()).toEqual(before);
  });

  it('is all or nothing inside the transaction of its caller', async () => {
    const kept = interval(a, 20_000);
    await apply([{ endpointId: a, add: [kept] }]);
    const before = await hintVersions();

    // The caller fails after the changes: nothing of them remains.
    await expect(
      inTransaction(db.pool, async (client) => {
        await applyHintChanges(client, [{ endpointId: a, add: [interval(a, 40_000)], clearSources: PLANNER }, { endpointId: b, add: [interval(b, 40_000)] }]);
        throw new Error('the analyses failed to insert');
      }),
    ).rejects.toThrow('the analyses failed to insert');
    expect(await active(a)).toEqual(['planner:heuristic:20000']);
    expect(await active(b)).toEqual([]);
    expect(await hintVersions()).toEqual(before);

    // A change that fails half-way (a hint the table refuses): the clears before it are undone too.
    const broken = { ...interval(b, 40_000), intervalMs: undefined } as NewHint;
    await expect(apply([{ endpointId: a, add: [interval(a, 40_000)], clearSources: PLANNER }, { endpointId: b, add: [broken] }])).rejects.toThrow(/check constraint/);
    expect(await listHints(db.pool, a, { includePast: true, limit: 10 })).toEqual([{ ...kept, createdAt: expect.any(Date), clearedAt: null, analysisId: null }]);
    expect(await active(b)).toEqual([]);
    expect(await hintVersions()).toEqual(before);
  });
});

describe('listHints', () => {
  it('lists active hints newest first, and past ones (cleared or expired) when asked', async () => {
    const expired = interval(a, 10_000, 'manual:alice', { expiresAt: new Date(Date.now() - 1_000) });
    await insertHint(db.pool, expired);
    const cleared = interval(a, 20_000);
    await apply([{ endpointId: a, add: [cleared] }]);
    const current = interval(a, 30_000);
    await apply([{ endpointId: a, add: [current], clearSources: PLANNER }]);
    expect((await listHints(db.pool, a, { includePast: false, limit: 10 })).map((hint) => hint.id)).toEqual([current.id]);
    const all = await listHints(db.pool, a, { includePast: true, limit: 10 });
    expect(all.map((hint) => hint.id)).toEqual([current.id, cleared.id, expired.id]);
    expect(all[1]!.clearedAt).toBeInstanceOf(Date);
    expect((await listHints(db.pool, a, { includePast: true, limit: 2 })).map((hint) => hint.id)).toEqual([current.id, cleared.id]);
    expect(await listHints(db.pool, b, { includePast: true, limit: 10 })).toEqual([]);
  });
});
