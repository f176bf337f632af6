import type { Queryable } from '../pool.ts';

/**
 * One change made through the API or the CLI (`audit_events`): who (the API key, or the CLI on the
 * database and its OS user), what (the procedure or command, its target, a redacted summary), when.
 */
export interface AuditEvent {
  /** UUIDv7: events list newest first by it, and retention prunes by it. */
  id: string;
  tenantId: string;
  /** The API key that made the change; null for a command run on the database. */
  actorKeyId: string | null;
  /** The key's name, or `cli (database) as <OS user>`. */
  actor: string;
  via: 'api' | 'cli';
  /** `tickwise.v1.JobService/CreateJob`, or a command: `apply`, `keys create`. */
  action: string;
  /** What the change is about: `job orders`, `endpoint orders/poll`, `key ops`; empty when it is the tenant. */
  target: string;
  /** What changed, already redacted by whoever records it. */
  summary: unknown;
  at: Date;
}

export type NewAuditEvent = Omit<AuditEvent, 'at'>;

interface RawAuditEvent {
  id: string;
  tenant_id: string;
  actor_key_id: string | null;
  actor: string;
  via: 'api' | 'cli';
  action: string;
  target: string;
  summary: unknown;
  at: Date;
}

function toAuditEvent(row: RawAuditEvent): AuditEvent {
  return { id: row.id, tenantId: row.tenant_id, actorKeyId: row.actor_key_id, actor: row.actor, via: row.via, action: row.action, target: row.target, summary: row.summary, at: row.at };
}

/** Records one change; in the caller's transaction when `db` is a transaction's client. */
export async function insertAuditEvent(db: Queryable, event: NewAuditEvent): Promise<void> {
  await db.query(
    'INSERT INTO audit_events (id, tenant_id, actor_key_id, actor, via, action, target, summary) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)',
    [event.id, event.tenantId, event.actorKeyId, event.actor, event.via, event.action, event.target, JSON.stringify(event.summary ?? {})],
  );
}

/** A tenant's events, newest first: after `beforeId` (the previous page's last), since `since` (by the ids' time). */
export async function listAuditEvents(db: Queryable, tenantId: string, options: { limit: number; beforeId?: string | null; since?: Date | null }): Promise<AuditEvent[]> {
  const { rows } = await db.query<RawAuditEvent>(
    `SELECT * FROM audit_events
      WHERE tenant_id = $1
        AND ($2::uuid IS NULL OR id < $2::uuid)
        AND ($3::timestamptz IS NULL OR id >= tickwise_uuid7_floor($3::timestamptz))
      ORDER BY id DESC
      LIMIT $4`,
    [tenantId, options.beforeId ?? null, options.since ?? null, options.limit],
  );
  return rows.map(toAuditEvent);
}

/** Deletes at most `limit` events older than `before`; call again while it deletes. */
export async function pruneAuditEvents(db: Queryable, before: Date, limit: number): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM audit_events WHERE id IN (SELECT a.id FROM audit_events a WHERE a.id < tickwise_uuid7_floor($1) LIMIT $2)', [before, limit]);
  return rowCount ?? 0;
}
