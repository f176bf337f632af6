import type { Queryable } from '../pool.ts';

/** The channel tickwise_commit_rows notifies when it records runs (payload empty). */
export const RUN_EVENTS_CHANNEL = 'tickwise_run_events';

export interface StoredRunEvent {
  id: string;
  payload: unknown;
}

/**
 * Outbox rows with an id above `after` (null: from the start), oldest first. Ids are UUIDv7 made by
 * the writers, so one committed late can land below rows already read: the caller reads from a
 * floor some time back and skips what it has seen.
 */
export async function readRunEvents(db: Queryable, after: string | null, limit: number): Promise<StoredRunEvent[]> {
  const { rows } = await db.query<StoredRunEvent>(
    after === null
      ? 'SELECT id, payload FROM run_events ORDER BY id LIMIT $1'
      : 'SELECT id, payload FROM run_events WHERE id > $2 ORDER BY id LIMIT $1',
    after === null ? [limit] : [limit, after],
  );
  return rows;
}

/** The smallest UUIDv7 of `at`'s millisecond (ids below it were made before `at`). */
export function uuid7Floor(at: Date): string {
  const hex = Math.max(0, Math.floor(at.getTime())).toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7000-8000-000000000000`;
}

/** The time a UUIDv7 was made, to the millisecond. */
export function uuid7Time(id: string): Date {
  return new Date(Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16));
}

export interface CursorLease {
  position: string | null;
}

/**
 * Takes or renews the lease of a consumer cursor (one reader per name at a time). Returns the
 * stored position, or null when another owner holds an unexpired lease.
 */
export async function leaseCursor(db: Queryable, name: string, owner: string, leaseMs: number): Promise<CursorLease | null> {
  await db.query('INSERT INTO planner_cursors (name) VALUES ($1) ON CONFLICT (name) DO NOTHING', [name]);
  const { rows } = await db.query<{ position: string | null }>(
    `UPDATE planner_cursors
        SET lease_owner = $2, lease_expires_at = now() + make_interval(secs => $3::double precision / 1000), updated_at = now()
      WHERE name = $1 AND (lease_owner IS NULL OR lease_owner = $2 OR lease_expires_at < now())
      RETURNING position`,
    [name, owner, leaseMs],
  );
  return rows[0] ? { position: rows[0].position } : null;
}

/** Stores the position if `owner` still holds the lease; false when it lost it. */
export async function advanceCursor(db: Queryable, name: string, owner: string, position: string): Promise<boolean> {
  const { rowCount } = await db.query('UPDATE planner_cursors SET position = $3, updated_at = now() WHERE name = $1 AND lease_owner = $2', [name, owner, position]);
  return rowCount === 1;
}

export async function releaseCursor(db: Queryable, name: string, owner: string): Promise<void> {
  await db.query('UPDATE planner_cursors SET lease_owner = NULL, lease_expires_at = NULL WHERE name = $1 AND lease_owner = $2', [name, owner]);
}

/** Deletes run events and analyses older than `before`, at most `limit` of each; call again while it deletes. */
export async function prunePlanner(db: Queryable, before: Date, limit: number): Promise<{ events: number; analyses: number }> {
  const { rows } = await db.query<{ events_deleted: number; analyses_deleted: number }>('SELECT * FROM tickwise_prune_planner($1, $2)', [before, limit]);
  return { events: rows[0]!.events_deleted, analyses: rows[0]!.analyses_deleted };
}

/** How many outbox rows have an id in (after, upTo]. */
export async function countRunEvents(db: Queryable, after: string, upTo: string): Promise<number> {
  const { rows } = await db.query<{ count: string }>('SELECT count(*) FROM run_events WHERE id > $1 AND id <= $2', [after, upTo]);
  return Number(rows[0]!.count);
}

/** The ids of the outbox rows in (after, upTo], oldest first. */
export async function runEventIds(db: Queryable, after: string, upTo: string): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>('SELECT id FROM run_events WHERE id > $1 AND id <= $2 ORDER BY id', [after, upTo]);
  return rows.map((row) => row.id);
}

export async function runEventsByIds(db: Queryable, ids: readonly string[]): Promise<StoredRunEvent[]> {
  if (ids.length === 0) return [];
  const { rows } = await db.query<StoredRunEvent>('SELECT id, payload FROM run_events WHERE id = ANY ($1::uuid[]) ORDER BY id', [ids]);
  return rows;
}
