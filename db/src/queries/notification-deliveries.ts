import type { NotifyChannel } from '@tickwise/machines';
import type { Queryable } from '../pool.ts';
import type { NotificationKind } from './notifications.ts';

export type DeliveryStatus = 'pending' | 'sent' | 'failed';

/** A delivery a sender holds: what to send, where. */
export interface ClaimedDelivery {
  id: string;
  notificationId: string;
  tenantId: string;
  endpointId: string;
  kind: NotificationKind;
  channel: NotifyChannel;
  url: string;
  /** Attempts started, this one included. */
  attempts: number;
  payload: Record<string, unknown>;
}

/**
 * Takes up to `limit` pending deliveries that are due, under a lease (`FOR UPDATE SKIP LOCKED`:
 * two senders never take the same row; a sender that died mid-send leaves its rows to others once
 * the lease expires). Counts the attempt as started.
 */
export async function claimDeliveries(db: Queryable, owner: string, limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
  const { rows } = await db.query<{
    id: string;
    notification_id: string;
    tenant_id: string;
    endpoint_id: string;
    kind: NotificationKind;
    channel: NotifyChannel;
    url: string;
    attempts: number;
    payload: Record<string, unknown>;
  }>(
    `WITH due AS (
       SELECT id FROM notification_deliveries
        WHERE status = 'pending' AND next_attempt_at <= now() AND (lease_expires_at IS NULL OR lease_expires_at < now())
        ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED
     ), claimed AS (
       UPDATE notification_deliveries d
          SET lease_owner = $1, lease_expires_at = now() + make_interval(secs => $3::double precision / 1000),
              attempts = d.attempts + 1, last_attempt_at = now(), updated_at = now()
         FROM due WHERE d.id = due.id
       RETURNING d.id, d.notification_id, d.tenant_id, d.endpoint_id, d.kind, d.channel, d.url, d.attempts
     )
     SELECT c.*, n.payload FROM claimed c JOIN notifications n ON n.id = c.notification_id ORDER BY c.id`,
    [owner, limit, leaseMs],
  );
  return rows.map((row) => ({
    id: row.id,
    notificationId: row.notification_id,
    tenantId: row.tenant_id,
    endpointId: row.endpoint_id,
    kind: row.kind,
    channel: row.channel,
    url: row.url,
    attempts: row.attempts,
    payload: row.payload,
  }));
}

/** How one attempt went. */
export type DeliveryOutcome =
  | { status: 'sent'; httpStatus: number }
  | { status: 'failed'; httpStatus: number | null; error: string }
  | { status: 'pending'; httpStatus: number | null; error: string; retryAt: Date };

/**
 * Records an attempt and hands the lease back; false when `owner` no longer held the row (nothing
 * written). A delivery sent after failed attempts keeps the last error, to show why it took several.
 */
export async function recordDelivery(db: Queryable, id: string, owner: string, outcome: DeliveryOutcome): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE notification_deliveries
        SET status = $3, last_http_status = $4, last_error = COALESCE($5, last_error),
            next_attempt_at = COALESCE($6, next_attempt_at), sent_at = CASE WHEN $3 = 'sent' THEN now() ELSE sent_at END,
            lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
      WHERE id = $1 AND lease_owner = $2 AND status = 'pending'`,
    [id, owner, outcome.status, outcome.httpStatus, outcome.status === 'sent' ? null : outcome.error, outcome.status === 'pending' ? outcome.retryAt : null],
  );
  return rowCount === 1;
}

/** Hands back rows still leased by `owner` (on shutdown) so another sender takes them at once. */
export async function releaseDeliveries(db: Queryable, owner: string): Promise<void> {
  await db.query('UPDATE notification_deliveries SET lease_owner = NULL, lease_expires_at = NULL, attempts = GREATEST(attempts - 1, 0) WHERE lease_owner = $1 AND status = $2', [owner, 'pending']);
}

/** When the next pending delivery falls due (null: none), so a sender sleeps just that long. */
export async function nextDeliveryAt(db: Queryable): Promise<Date | null> {
  const { rows } = await db.query<{ at: Date | null }>("SELECT min(next_attempt_at) AS at FROM notification_deliveries WHERE status = 'pending'");
  return rows[0]?.at ?? null;
}

/** A delivery as the API lists it, with what its notification said. */
export interface DeliveryView {
  id: string;
  notificationId: string;
  endpointId: string;
  jobId: string;
  kind: NotificationKind;
  channel: NotifyChannel;
  url: string;
  status: DeliveryStatus;
  attempts: number;
  lastError: string | null;
  lastHttpStatus: number | null;
  nextAttemptAt: Date | null;
  lastAttemptAt: Date | null;
  sentAt: Date | null;
  createdAt: Date;
  /** The notification's one-line summary (payload `summary`). */
  summary: string;
}

export interface ListDeliveriesOptions {
  limit: number;
  /** The id of the last delivery of the previous page (newest first). */
  before?: string | null;
  endpointId?: string | null;
  jobId?: string | null;
  status?: DeliveryStatus | null;
}

/** A tenant's deliveries, newest first, filtered; never another tenant's. */
export async function listDeliveries(db: Queryable, tenantId: string, options: ListDeliveriesOptions): Promise<DeliveryView[]> {
  const { rows } = await db.query<{
    id: string;
    notification_id: string;
    endpoint_id: string;
    job_id: string;
    kind: NotificationKind;
    channel: NotifyChannel;
    url: string;
    status: DeliveryStatus;
    attempts: number;
    last_error: string | null;
    last_http_status: number | null;
    next_attempt_at: Date;
    last_attempt_at: Date | null;
    sent_at: Date | null;
    created_at: Date;
    summary: string | null;
  }>(
    `SELECT d.id, d.notification_id, d.endpoint_id, d.job_id, d.kind, d.channel, d.url, d.status, d.attempts, d.last_error,
            d.last_http_status, d.next_attempt_at, d.last_attempt_at, d.sent_at, d.created_at, n.payload ->> 'summary' AS summary
       FROM notification_deliveries d JOIN notifications n ON n.id = d.notification_id
      WHERE d.tenant_id = $1 AND ($3::uuid IS NULL OR d.id < $3) AND ($4::uuid IS NULL OR d.endpoint_id = $4)
        AND ($5::uuid IS NULL OR d.job_id = $5) AND ($6::text IS NULL OR d.status = $6)
      ORDER BY d.id DESC LIMIT $2`,
    [tenantId, options.limit, options.before ?? null, options.endpointId ?? null, options.jobId ?? null, options.status ?? null],
  );
  return rows.map((row) => ({
    id: row.id,
    notificationId: row.notification_id,
    endpointId: row.endpoint_id,
    jobId: row.job_id,
    kind: row.kind,
    channel: row.channel,
    url: row.url,
    status: row.status,
    attempts: row.attempts,
    lastError: row.last_error,
    lastHttpStatus: row.last_http_status,
    nextAttemptAt: row.status === 'pending' ? row.next_attempt_at : null,
    lastAttemptAt: row.last_attempt_at,
    sentAt: row.sent_at,
    createdAt: row.created_at,
    summary: row.summary ?? '',
  }));
}

/**
 * Deletes finished deliveries and notifications older than `before`, and notices, at most `limit`
 * of each. A failing notification whose streak has not recovered is kept: it is what tells a
 * restarted planner that the streak was told already (and a recovery outlives its failures).
 */
export async function pruneNotifications(db: Queryable, before: Date, limit: number): Promise<number> {
  const deliveries = await db.query(
    `DELETE FROM notification_deliveries WHERE id IN (
       SELECT id FROM notification_deliveries WHERE created_at < $1 AND status <> 'pending' LIMIT $2)`,
    [before, limit],
  );
  const notifications = await db.query(
    `DELETE FROM notifications WHERE id IN (
       SELECT n.id FROM notifications n
        WHERE n.created_at < $1
          AND NOT EXISTS (SELECT 1 FROM notification_deliveries d WHERE d.notification_id = n.id)
          AND CASE n.kind
                WHEN 'failing' THEN EXISTS (SELECT 1 FROM notifications r WHERE r.endpoint_id = n.endpoint_id AND r.kind = 'recovered' AND r.streak_key = n.streak_key)
                -- a recovery goes after its failures, or they would look unrecovered
                WHEN 'recovered' THEN NOT EXISTS (SELECT 1 FROM notifications f WHERE f.endpoint_id = n.endpoint_id AND f.kind = 'failing' AND f.streak_key = n.streak_key)
                ELSE true END
        LIMIT $2)`,
    [before, limit],
  );
  const notices = await db.query('DELETE FROM endpoint_notices WHERE id IN (SELECT id FROM endpoint_notices WHERE created_at < $1 LIMIT $2)', [before, limit]);
  return (deliveries.rowCount ?? 0) + (notifications.rowCount ?? 0) + (notices.rowCount ?? 0);
}
