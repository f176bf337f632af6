import { activeHints, commitMachines, inTransaction, insertNotice, lockEndpoint, newId, notifyWake, setUserPause, withRetry, type EndpointRow, type Pool, type PoolClient } from '@tickwise/db';
import { restoreSnapshot, type UserPause } from '@tickwise/machines';
import { TickwiseError } from '@tickwise/platform';
import { planWrite, userPauseOf } from './machine-writes.ts';

/**
 * Sets or clears a person's pause. A free machine is re-planned at once (→ paused, or → idle on
 * resume); a leased one is re-planned by its node when the run in flight finishes.
 */
export async function setPause(pool: Pool, endpointId: string, pause: UserPause | null, now = new Date()): Promise<void> {
  await withRetry(() =>
    inTransaction(pool, async (client) => {
      await setPauseIn(client, endpointId, pause, now);
      await notifyWake(client);
    }),
  );
}

/** `setPause` inside the caller's transaction (so a job's endpoints pause together); no wake-up sent. */
export async function setPauseIn(client: PoolClient, endpointId: string, pause: UserPause | null, now: Date): Promise<void> {
  const row = await lockEndpoint(client, endpointId);
  if (!row) throw new TickwiseError('not_found', `endpoint ${endpointId} does not exist`);
  await setUserPause(client, endpointId, pause);
  // Whoever the job notifies hears of a person's pause (not of a resume: the next success says it).
  if (pause) await insertNotice(client, endpointId, { id: newId(), kind: 'paused', detail: { by: 'person', reason: pause.reason, until: pause.until?.toISOString() ?? null } });
  if (row.leaseOwner === null && (row.state === 'idle' || row.state === 'paused')) await replanForPause(client, row, pause, now);
}

/**
 * A person paused a machine while a node held it; the node wrote it free (idle, planned as before)
 * and hands it here to take the pause into account: it is re-planned into `paused` now. Nothing
 * changes when the pause was lifted meanwhile or someone else re-planned it first.
 */
export async function applyPersonsPause(pool: Pool, endpointId: string, now = new Date()): Promise<void> {
  await withRetry(() =>
    inTransaction(pool, async (client) => {
      const row = await lockEndpoint(client, endpointId);
      const pause = row ? userPauseOf(row) : null;
      if (!row || !pause || (pause.until !== null && pause.until <= now) || row.leaseOwner !== null || row.state !== 'idle') return;
      await replanForPause(client, row, pause, now);
      await notifyWake(client);
    }),
  );
}

async function replanForPause(client: PoolClient, row: EndpointRow, pause: UserPause | null, now: Date): Promise<void> {
  const { snapshot } = restoreSnapshot(row.snapshot, row);
  const hints = (await activeHints(client, [row.id])).get(row.id) ?? [];
  const event = row.state === 'paused' && !pause ? ({ type: 'RESUME' } as const) : ({ type: 'REPLAN', reason: pause ? 'paused by a person' : 'resumed' } as const);
  const write = planWrite(snapshot, event, { id: row.id, version: row.version, spec: row.spec, hints, userPause: pause, now, random: Math.random });
  await commitMachines(client, null, [], [write]);
}
