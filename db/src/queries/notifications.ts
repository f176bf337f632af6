import { storedNotifyTargets, type NotifyChannel, type NotifyTarget } from '@tickwise/machines';
import type { Queryable } from '../pool.ts';

/** The channel a new delivery is announced on (payload empty): senders in other planners wake. */
export const NOTIFICATIONS_CHANNEL = 'tickwise_notifications';

export type NotificationKind = 'failing' | 'recovered' | 'paused';

/** The job's notify targets (the catalog writes them with the job, in its transaction). */
export async function setJobNotify(db: Queryable, jobId: string, targets: readonly NotifyTarget[]): Promise<void> {
  await db.query('UPDATE jobs SET notify = $2, updated_at = now() WHERE id = $1', [jobId, JSON.stringify(targets)]);
}

export async function jobNotify(db: Queryable, jobId: string): Promise<NotifyTarget[]> {
  const { rows } = await db.query<{ notify: unknown }>('SELECT notify FROM jobs WHERE id = $1', [jobId]);
  return storedNotifyTargets(rows[0]?.notify);
}

/** What a notification says of its endpoint, and to whom the endpoint's job sends it. */
export interface NotifyEndpoint {
  id: string;
  name: string;
  jobId: string;
  jobName: string;
  tenantId: string;
  tenantName: string;
  targets: NotifyTarget[];
}

/** A failure streak as the database holds it: consecutive failed slots since the last success. */
export interface StoredStreak {
  /** The highest run id of the endpoint: the state is as of this run. */
  lastRunId: string | null;
  /** The endpoint's last successful run: a streak told before it has ended. */
  lastSuccessId: string | null;
  failures: number;
  /** The streak's first failed run (the streak's identity); null when not failing. */
  firstRunId: string | null;
  firstFailureAt: Date | null;
  lastFailureAt: Date | null;
  lastError: string | null;
}

/** A streak whose failure was told and whose recovery was not yet, with the `after`s already told. */
export interface OpenStreak {
  streakKey: string;
  thresholds: number[];
}

/** Where the planner's notification state starts for an endpoint (first meeting, or after a restart). */
export interface NotifyBaseline extends NotifyEndpoint {
  streak: StoredStreak;
  open: OpenStreak[];
}

interface RawEndpoint {
  id: string;
  name: string;
  job_id: string;
  job_name: string;
  tenant_id: string;
  tenant_name: string | null;
  notify: unknown;
}

const ENDPOINT_SQL = `SELECT e.id, e.name, e.job_id, j.name AS job_name, e.tenant_id, t.name AS tenant_name, j.notify
  FROM endpoints e JOIN jobs j ON j.id = e.job_id LEFT JOIN tenants t ON t.id = e.tenant_id
 WHERE e.id = ANY ($1::uuid[])`;

const toEndpoint = (row: RawEndpoint): NotifyEndpoint => ({
  id: row.id,
  name: row.name,
  jobId: row.job_id,
  jobName: row.job_name,
  tenantId: row.tenant_id,
  tenantName: row.tenant_name ?? '',
  targets: storedNotifyTargets(row.notify),
});

/** The endpoints with their job's current targets (a notify list changes with every apply). */
export async function notifyEndpoints(db: Queryable, endpointIds: readonly string[]): Promise<Map<string, NotifyEndpoint>> {
  const ids = [...new Set(endpointIds)];
  if (ids.length === 0) return new Map();
  const { rows } = await db.query<RawEndpoint>(ENDPOINT_SQL, [ids]);
  return new Map(rows.map((row) => [row.id, toEndpoint(row)]));
}

/** A failed run's error as a line: "http_status 503", "timeout". Pure. */
export function errorLine(errorKind: string | null, httpStatus: number | null): string | null {
  if (errorKind === null && httpStatus === null) return null;
  return [errorKind ?? 'failed', httpStatus === null ? '' : String(httpStatus)].filter(Boolean).join(' ');
}

/**
 * The endpoints' streaks read from `runs` (failed slots since the last success: runs whose
 * last_attempt is not false), whatever the planner's window, with the streaks whose failure was told
 * but not their recovery. The planner rebuilds its notification state from this, so a restart makes
 * the same notices, never a second one.
 */
export async function notifyBaselines(db: Queryable, endpointIds: readonly string[]): Promise<Map<string, NotifyBaseline>> {
  const endpoints = await notifyEndpoints(db, endpointIds);
  const result = new Map<string, NotifyBaseline>();
  if (endpoints.size === 0) return result;
  const ids = [...endpoints.keys()];
  const { rows } = await db.query<{
    id: string;
    last_run_id: string | null;
    last_success_id: string | null;
    failures: string;
    first_id: string | null;
    first_at: Date | null;
    last_at: Date | null;
    error_kind: string | null;
    http_status: number | null;
  }>(
    `SELECT e.id, last_run.id AS last_run_id, last_ok.id AS last_success_id, f.failures, first_failed.id AS first_id, first_failed.finished_at AS first_at,
            last_failed.finished_at AS last_at, last_failed.error_kind, last_failed.http_status
       FROM unnest($1::uuid[]) AS e(id)
       LEFT JOIN LATERAL (SELECT id FROM runs WHERE endpoint_id = e.id ORDER BY id DESC LIMIT 1) last_run ON true
       LEFT JOIN LATERAL (SELECT id FROM runs WHERE endpoint_id = e.id AND status = 'succeeded' ORDER BY id DESC LIMIT 1) last_ok ON true
       LEFT JOIN LATERAL (SELECT count(*) AS failures FROM runs
                           WHERE endpoint_id = e.id AND status = 'failed' AND last_attempt IS NOT FALSE AND (last_ok.id IS NULL OR id > last_ok.id)) f ON true
       LEFT JOIN LATERAL (SELECT id, finished_at FROM runs
                           WHERE endpoint_id = e.id AND status = 'failed' AND last_attempt IS NOT FALSE AND (last_ok.id IS NULL OR id > last_ok.id)
                           ORDER BY id LIMIT 1) first_failed ON true
       LEFT JOIN LATERAL (SELECT finished_at, error_kind, http_status FROM runs
                           WHERE endpoint_id = e.id AND status = 'failed' AND last_attempt IS NOT FALSE AND (last_ok.id IS NULL OR id > last_ok.id)
                           ORDER BY id DESC LIMIT 1) last_failed ON true`,
    [ids],
  );
  const open = await openStreaks(db, ids);
  for (const row of rows) {
    const endpoint = endpoints.get(row.id);
    if (!endpoint) continue;
    const failures = Number(row.failures);
    result.set(row.id, {
      ...endpoint,
      streak: {
        lastRunId: row.last_run_id,
        lastSuccessId: row.last_success_id,
        failures,
        firstRunId: failures > 0 ? row.first_id : null,
        firstFailureAt: failures > 0 ? row.first_at : null,
        lastFailureAt: failures > 0 ? row.last_at : null,
        lastError: failures > 0 ? errorLine(row.error_kind, row.http_status) : null,
      },
      open: open.get(row.id) ?? [],
    });
  }
  return result;
}

/** Streaks told as failing and not yet as recovered, per endpoint, oldest first. */
async function openStreaks(db: Queryable, endpointIds: readonly string[]): Promise<Map<string, OpenStreak[]>> {
  const { rows } = await db.query<{ endpoint_id: string; streak_key: string; thresholds: number[] }>(
    `SELECT n.endpoint_id, n.streak_key, array_agg(n.threshold ORDER BY n.threshold) AS thresholds
       FROM notifications n
      WHERE n.endpoint_id = ANY ($1::uuid[]) AND n.kind = 'failing'
        AND NOT EXISTS (SELECT 1 FROM notifications r WHERE r.endpoint_id = n.endpoint_id AND r.kind = 'recovered' AND r.streak_key = n.streak_key)
      GROUP BY n.endpoint_id, n.streak_key
      ORDER BY n.streak_key`,
    [endpointIds],
  );
  const result = new Map<string, OpenStreak[]>();
  for (const row of rows) {
    const list = result.get(row.endpoint_id) ?? [];
    list.push({ streakKey: row.streak_key, thresholds: row.thresholds.map(Number) });
    result.set(row.endpoint_id, list);
  }
  return result;
}

/** A notification to make, with the targets it goes to. */
export interface NewNotification {
  /** UUIDv7 made by the caller; another id when the notification existed already. */
  id: string;
  tenantId: string;
  jobId: string;
  endpointId: string;
  kind: NotificationKind;
  dedupKey: string;
  streakKey: string | null;
  threshold: number | null;
  payload: Record<string, unknown>;
  /**
   * Where it goes: these targets, or (`told`) the targets told of the streak's failure (a recovery
   * goes to whoever heard of the failure).
   */
  targets: readonly { channel: NotifyChannel; url: string; deliveryId: string }[] | { told: string; deliveryIds: () => string };
}

/**
 * Stores a notification and its deliveries in the caller's transaction, once: a notification whose
 * dedup key the endpoint already has is left as it is (it was made, with its deliveries, by an
 * earlier writer). Returns how many deliveries it made, or null when it was there already; the
 * caller wakes the senders (`notifyNewDeliveries`, sent at commit).
 */
export async function insertNotification(db: Queryable, notification: NewNotification): Promise<number | null> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO notifications (id, tenant_id, job_id, endpoint_id, kind, dedup_key, streak_key, threshold, payload)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (endpoint_id, dedup_key) DO NOTHING RETURNING id`,
    [notification.id, notification.tenantId, notification.jobId, notification.endpointId, notification.kind, notification.dedupKey, notification.streakKey, notification.threshold, JSON.stringify(notification.payload)],
  );
  if (rows.length === 0) return null;
  let targets: { channel: string; url: string; deliveryId: string }[];
  if ('told' in notification.targets) {
    const { told, deliveryIds } = notification.targets;
    const { rows: heard } = await db.query<{ channel: string; url: string }>(
      `SELECT DISTINCT d.channel, d.url FROM notification_deliveries d JOIN notifications n ON n.id = d.notification_id
        WHERE n.endpoint_id = $1 AND n.kind = 'failing' AND n.streak_key = $2 ORDER BY d.channel, d.url`,
      [notification.endpointId, told],
    );
    targets = heard.map((target) => ({ ...target, deliveryId: deliveryIds() }));
  } else targets = [...notification.targets];
  if (targets.length === 0) return 0;
  const { rowCount } = await db.query(
    `INSERT INTO notification_deliveries (id, notification_id, tenant_id, job_id, endpoint_id, kind, channel, url)
     SELECT d.id, $2, $3, $4, $5, $6, d.channel, d.url FROM unnest($1::uuid[], $7::text[], $8::text[]) AS d(id, channel, url)
     ON CONFLICT (notification_id, channel, url) DO NOTHING`,
    [targets.map((target) => target.deliveryId), notification.id, notification.tenantId, notification.jobId, notification.endpointId, notification.kind, targets.map((target) => target.channel), targets.map((target) => target.url)],
  );
  return rowCount ?? 0;
}

/** Wakes the senders (after the deliveries committed: the caller's transaction sends it at commit). */
export async function notifyNewDeliveries(db: Queryable): Promise<void> {
  await db.query(`SELECT tickwise_notify($1, '')`, [NOTIFICATIONS_CHANNEL]);
}

/** The cursor name of the notices reader in planner_cursors (a position only: every planner reads notices). */
const NOTICES_CURSOR = 'notices';

/** Where notices were read up to, by any planner (null: from the start). */
export async function noticesPosition(db: Queryable): Promise<string | null> {
  const { rows } = await db.query<{ position: string | null }>('SELECT position FROM planner_cursors WHERE name = $1', [NOTICES_CURSOR]);
  return rows[0]?.position ?? null;
}

/** Moves the notices position forward (never back: several planners read notices). */
export async function advanceNoticesPosition(db: Queryable, position: string): Promise<void> {
  await db.query(
    `INSERT INTO planner_cursors (name, position) VALUES ($1, $2)
     ON CONFLICT (name) DO UPDATE SET position = GREATEST(planner_cursors.position, EXCLUDED.position), updated_at = now()`,
    [NOTICES_CURSOR, position],
  );
}

/** The tenant's own usable signing secrets (not an endpoint's), newest first: what signs its notifications. */
export async function tenantSigningSecrets(db: Queryable, tenantId: string): Promise<Buffer[]> {
  const { rows } = await db.query<{ secret: Buffer }>(
    `SELECT secret FROM signing_secrets WHERE tenant_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now()) ORDER BY id DESC`,
    [tenantId],
  );
  return rows.map((row) => row.secret);
}
