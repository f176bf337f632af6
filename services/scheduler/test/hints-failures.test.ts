import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { TickwiseError } from '@tickwise/platform';
import { REPLAN_MAX_LIMIT, replanForHints, type ReplanForHintsOptions } from '@tickwise/catalog';
import { applyJob, endpointId, startNode, useDatabaseAndTarget } from '../../../test/support/scheduler.ts';
import { waitFor } from '../../../test/support/wait.ts';
import { NO_POLL, changeHints, listening, newHint, ranOnce, row, writesOf } from './hint-helpers.ts';

describe('a node whose hint handling fails', () => {
  const held: ServerResponse[] = [];
  const env = useDatabaseAndTarget((call, response) => {
    if (call.path === '/hold') return void held.push(response);
    response.end('ok');
  });

  it('ignores a hints notification it cannot read, and keeps re-planning', async () => {
    const { db, target } = env;
    const { node, log } = startNode(db, NO_POLL);
    try {
      await listening(log);
      await db.pool.query(`SELECT pg_notify('tickwise_hints', 'not json'), pg_notify('tickwise_hints', '["not-an-id", 7]')`);
      await waitFor('the warning', () => log.lines.some((line) => line.startsWith('warn ignored a hints notification that is not a JSON array of endpoint ids {"payload":"not json"}')));
      const { id, lastSlot } = await ranOnce(db, `${target.url}/after-garbage`, 'after-garbage');
      await changeHints(db, [{ endpointId: id, add: [newHint(id, 'interval', { intervalMs: 600_000 })] }]);
      const replanned = await waitFor('the re-plan', async () => {
        const current = await row(db, id);
        return current.reason?.startsWith('hint') ? current : undefined;
      });
      expect(replanned.next_run_at.getTime()).toBe(lastSlot.getTime() + 600_000);
      expect(log.lines.filter((line) => line.startsWith('error'))).toEqual([]);
    } finally {
      await node.stop();
    }
  });

  it('plans the run with the hints it has when it cannot re-read them, records the run once, and re-plans once the database answers', async () => {
    const { db, target } = env;
    const { node, log } = startNode(db, { hintPollMs: 200 });
    try {
      await listening(log);
      await applyJob(db, 'reread', [{ name: 'work', url: `${target.url}/hold`, schedule: { every: '1h' }, timeout: '30s' }]);
      const id = await endpointId(db, 'reread', 'work');
      await waitFor('the call in flight', () => held.length === 1);
      await changeHints(db, [{ endpointId: id, add: [newHint(id, 'interval', { intervalMs: 240_000 })] }]);
      await waitFor('the node told of the hint', () => log.lines.some((line) => line.startsWith('debug hints changed while held')));
      // The hints table goes away (a broken database, as far as the node can tell).
      await db.pool.query('ALTER TABLE hints RENAME TO hints_away');
      try {
        held.shift()!.end('ok');
        await waitFor('the re-read failing', () => log.lines.some((line) => line.startsWith('error could not re-read hints before planning')));
        await waitFor('the re-plan failing', () => log.lines.some((line) => line.startsWith('error re-planning for hints failed')));
        await waitFor('the poll failing', () => log.lines.some((line) => line.startsWith('error polling for hints failed')));
        const planned = await row(db, id);
        expect(planned).toMatchObject({ state: 'idle', reason: 'baseline every 1h' });
        expect(planned.planned_hint_version).toBeLessThan(planned.hint_version);
      } finally {
        await db.pool.query('ALTER TABLE hints_away RENAME TO hints');
      }
      const replanned = await waitFor('the re-plan once the table is back', async () => {
        const current = await row(db, id);
        return current.reason?.startsWith('hint') ? current : undefined;
      });
      const { rows: runs } = await db.pool.query('SELECT slot FROM runs WHERE endpoint_id = $1', [id]);
      expect(runs).toHaveLength(1);
      expect(replanned.next_run_at.getTime()).toBe(runs[0].slot.getTime() + 240_000);
      expect(target.calls.filter((call) => call.path === '/hold')).toHaveLength(1);
    } finally {
      await node.stop();
    }
  });
});

describe('replanForHints', () => {
  const env = useDatabaseAndTarget();

  it('re-plans a free machine once: a second call right after does nothing', async () => {
    const { db, target } = env;
    await applyJob(db, 'direct', [{ name: 'work', url: `${target.url}/direct`, schedule: { every: '1h' } }]);
    const id = await endpointId(db, 'direct', 'work');
    await changeHints(db, [{ endpointId: id, add: [newHint(id, 'interval', { intervalMs: 60_000, reason: 'direct' })] }]);
    const told: string[] = [];
    const writesBefore = (await writesOf(db, id)).length;
    expect(await replanForHints(db.pool, { limit: 10, onReplanned: (machine) => told.push(`${machine.id} ${machine.trigger} ${machine.changed}`) })).toBe(1);
    expect(told).toEqual([`${id} hint (test): direct true`]);
    expect(await replanForHints(db.pool, { limit: 10 })).toBe(0);
    expect(await replanForHints(db.pool, { ids: [id], limit: 10 })).toBe(0);
    expect((await writesOf(db, id)).length).toBe(writesBefore + 1);
    expect((await row(db, id)).reason).toMatch(/^hint \(test\): every 1m/);
  });

  it('leaves a machine a node holds to that node, and takes only the ids it is given', async () => {
    const { db, target } = env;
    await applyJob(db, 'leased', [
      { name: 'held', url: `${target.url}/held`, schedule: { every: '1h' } },
      { name: 'other', url: `${target.url}/other`, schedule: { every: '1h' } },
    ]);
    const heldId = await endpointId(db, 'leased', 'held');
    const otherId = await endpointId(db, 'leased', 'other');
    await db.pool.query(`UPDATE endpoints SET state = 'due', lease_owner = 'some-node', lease_expires_at = now() + interval '1 minute', claimed_slot = now() WHERE id = $1`, [heldId]);
    await changeHints(db, [heldId, otherId].map((id) => ({ endpointId: id, add: [newHint(id, 'interval', { intervalMs: 60_000 })] })));
    expect(await replanForHints(db.pool, { ids: [heldId], limit: 10 })).toBe(0);
    expect(await replanForHints(db.pool, { ids: [], limit: 10 })).toBe(0);
    expect((await row(db, otherId)).planned_hint_version).toBe(0);
    expect(await replanForHints(db.pool, { ids: [heldId, otherId], limit: 10 })).toBe(1);
    const held = await row(db, heldId);
    expect(held.planned_hint_version).toBeLessThan(held.hint_version);
  });

  it.each([
    [{ limit: 0 }, `limit must be an integer between 1 and ${REPLAN_MAX_LIMIT}, got 0`],
    [{ limit: 2.5 }, `limit must be an integer between 1 and ${REPLAN_MAX_LIMIT}, got 2.5`],
    [{ limit: REPLAN_MAX_LIMIT + 1 }, `limit must be an integer between 1 and ${REPLAN_MAX_LIMIT}, got ${REPLAN_MAX_LIMIT + 1}`],
    [{ limit: 1, ids: 'abc' as unknown as string[] }, 'ids must be an array of endpoint ids, got string'],
    [{ limit: 1, ids: ['not-a-uuid'] }, 'ids must be endpoint ids (UUIDs), got "not-a-uuid"'],
    [{ limit: 1, lateToleranceMs: -5 }, 'lateToleranceMs must be a whole number of ms (0 or more), got -5'],
  ] as [ReplanForHintsOptions, string][])('refuses %o with a message naming the option', async (options, message) => {
    const error = await replanForHints(env.db.pool, options).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TickwiseError);
    expect(error).toMatchObject({ code: 'invalid_argument', reason: 'invalid_options', message });
  });
});
