import type { Queryable } from '../pool.ts';
import { toEndpointRow, type EndpointRow, type RawEndpointRow } from './endpoint-row.ts';

/**
 * Locks, for the caller's transaction, machines whose plan has not seen their latest hints and that
 * nobody leases: idle or paused ones (to be re-planned) and archived ones (only to be marked seen).
 * `ids`: only those; else any, through the small partial index `endpoints_hints_pending_idx`.
 * Rows locked by someone else are skipped: a peer is re-planning them, or a claim is taking them.
 */
export async function lockHintPending(db: Queryable, options: { ids?: readonly string[]; limit: number }): Promise<EndpointRow[]> {
  // The predicate is spelled as in the partial index, so the no-ids form can use it. PostgreSQL
  // guesses a third of the rows match `hint_version > planned_hint_version` (it keeps no statistics
  // comparing two columns), and with a LIMIT a sequential scan then looks cheap: 88 ms a poll on
  // 300k rows. ORDER BY id makes the partial index, small and already in id order, the cheap plan:
  // 0.03 ms.
  const free = `hint_version > planned_hint_version AND lease_owner IS NULL AND (archived_at IS NOT NULL OR state IN ('idle', 'paused'))`;
  const { rows } = options.ids
    ? await db.query<RawEndpointRow>(`SELECT * FROM endpoints WHERE id = ANY ($1::uuid[]) AND ${free} LIMIT $2 FOR UPDATE SKIP LOCKED`, [options.ids, options.limit])
    : await db.query<RawEndpointRow>(`SELECT * FROM endpoints WHERE ${free} ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`, [options.limit]);
  return rows.map(toEndpointRow);
}

/**
 * Records that the machines' plans account for their current hints, without touching the plan
 * (archived machines, or a re-plan that changed nothing). The caller holds the rows' locks.
 */
export async function markHintsSeen(db: Queryable, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.query('UPDATE endpoints SET planned_hint_version = hint_version WHERE id = ANY ($1::uuid[])', [ids]);
}

/** The current hint_version of each endpoint. Read it before the hints, so a plan never claims hints it did not see. */
export async function hintVersions(db: Queryable, ids: readonly string[]): Promise<Map<string, number>> {
  if (ids.length === 0) return new Map();
  const { rows } = await db.query<{ id: string; hint_version: number }>('SELECT id, hint_version FROM endpoints WHERE id = ANY ($1::uuid[])', [ids]);
  return new Map(rows.map((row) => [row.id, row.hint_version]));
}
