import { activeHints, commitMachines, inTransaction, lockEndpoint, notifyWake, setUserPause, withRetry, type Pool, type PoolClient } from '@tickwise/db';
import { restoreSnapshot } from '@tickwise/machines';
import { planWrite } from './machine-writes.ts';

export class EndpointNotFoundError extends Error {
  constructor(readonly endpointId: string) {
    super(`endpoint ${endpointId} does not exist`);
    this.name = 'EndpointNotFoundError';
  }
}

/**
 * Sets or clears a person's pause. A free machine is re-planned at once (→ paused, or → idle on
 * resume); a leased one is re-planned by its node when the run in flight finishes.
 */
export async function setPause(pool: Pool, endpointId: string, pause: { reason: string; until: Date | null } | null, now = new Date()): Promise<void> {
  await withRetry(() =>
    inTransaction(pool, async (client) => {
      await setPauseIn(client, endpointId, pause, now);
      await notifyWake(client);
    }),
  );
}

/** `setPause` inside the caller's transaction (so a job's endpoints pause together); no wake-up sent. */
export async function setPauseIn(client: PoolClient, endpointId: string, pause: { reason: string; until: Date | null } | null, now: Date): Promise<void> {
  const row = await lockEndpoint(client, endpointId);
  if (!row) throw new EndpointNotFoundError(endpointId);
  await setUserPause(client, endpointId, pause);
  if (row.leaseOwner === null && (row.state === 'idle' || row.state === 'paused')) {
    const { snapshot } = restoreSnapshot(row.snapshot, row);
    const hints = (await activeHints(client, [endpointId])).get(endpointId) ?? [];
    const event = row.state === 'paused' && !pause ? ({ type: 'RESUME' } as const) : ({ type: 'REPLAN', reason: pause ? 'paused by a person' : 'resumed' } as const);
    const write = planWrite(snapshot, event, { id: row.id, version: row.version, spec: row.spec, hints, userPause: pause, now, random: Math.random });
    await commitMachines(client, null, [], [write]);
  }
}
