import { type Columns } from '../columns.ts';
import type { Queryable } from '../pool.ts';
import type { RunRecord, RunStatus } from './run-record.ts';

/** A recorded run as read back; `responseBody` only when asked for (it may be 64 KiB). */
export type StoredRun = Omit<RunRecord, 'responseBody'> & { responseBody?: string | null };

/**
 * A row of `runs` as the driver returns it: retry_after_ms is a bigint (text), last_attempt is null
 * on runs written before retries existed (each of them was its slot's last attempt).
 */
export type RawRun = Omit<Columns<StoredRun>, 'retry_after_ms' | 'last_attempt'> & { retry_after_ms: string | null; last_attempt: boolean | null };

export const SUMMARY_COLUMNS = `id, endpoint_id, job_id, slot, attempt, last_attempt, worker, status, http_status, duration_ms, started_at, finished_at,
  error_kind, error_message, response_truncated, planned_source, retry_after_ms`;

export function toRun(row: RawRun): StoredRun {
  const run: StoredRun = {
    id: row.id,
    endpointId: row.endpoint_id,
    jobId: row.job_id,
    slot: row.slot,
    attempt: row.attempt,
    lastAttempt: row.last_attempt ?? true,
    worker: row.worker,
    status: row.status,
    httpStatus: row.http_status,
    durationMs: row.duration_ms,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    errorKind: row.error_kind,
    errorMessage: row.error_message,
    responseTruncated: row.response_truncated,
    plannedSource: row.planned_source,
    retryAfterMs: row.retry_after_ms === null ? null : Number(row.retry_after_ms),
  };
  if (row.response_body !== undefined) run.responseBody = row.response_body;
  return run;
}

/**
 * Runs of one endpoint, newest first, without their response bodies; `before` (a run id) pages back.
 * The caller has checked that the endpoint is the tenant's.
 */
export async function listRuns(db: Queryable, endpointId: string, options: { limit: number; before?: string | null; status?: RunStatus | null }): Promise<StoredRun[]> {
  const { rows } = await db.query<RawRun>(
    `SELECT ${SUMMARY_COLUMNS} FROM runs
      WHERE endpoint_id = $1 AND ($3::uuid IS NULL OR id < $3) AND ($4::text IS NULL OR status = $4)
      ORDER BY id DESC LIMIT $2`,
    [endpointId, options.limit, options.before ?? null, options.status ?? null],
  );
  return rows.map(toRun);
}

/** One run with its captured response, if it belongs to an endpoint of the tenant. */
export async function getRun(db: Queryable, tenantId: string, runId: string): Promise<StoredRun | null> {
  const { rows } = await db.query<RawRun>(
    `SELECT ${SUMMARY_COLUMNS}, response_body FROM runs r
      WHERE r.id = $2 AND EXISTS (SELECT 1 FROM endpoints e WHERE e.id = r.endpoint_id AND e.tenant_id = $1)`,
    [tenantId, runId],
  );
  return rows[0] ? toRun(rows[0]) : null;
}

/** The newest run id of each endpoint (those without runs are left out): where a watch starts. */
export async function latestRunIds(db: Queryable, endpointIds: readonly string[]): Promise<Map<string, string>> {
  if (endpointIds.length === 0) return new Map();
  const { rows } = await db.query<{ endpoint_id: string; id: string }>(
    `SELECT e.id AS endpoint_id, r.id
       FROM unnest($1::uuid[]) AS e(id)
       CROSS JOIN LATERAL (SELECT id FROM runs WHERE runs.endpoint_id = e.id ORDER BY runs.id DESC LIMIT 1) r`,
    [endpointIds],
  );
  return new Map(rows.map((row) => [row.endpoint_id, row.id]));
}

/**
 * Runs of each endpoint with an id above its given one (null: any), oldest first, at most
 * `perEndpoint` each, without response bodies.
 */
export async function runsAfter(db: Queryable, after: ReadonlyMap<string, string | null>, perEndpoint: number): Promise<StoredRun[]> {
  if (after.size === 0) return [];
  const ids = [...after.keys()];
  const { rows } = await db.query<RawRun>(
    `SELECT r.* FROM unnest($1::uuid[], $2::uuid[]) AS c(id, after)
       CROSS JOIN LATERAL (
         SELECT ${SUMMARY_COLUMNS} FROM runs
          WHERE runs.endpoint_id = c.id AND (c.after IS NULL OR runs.id > c.after)
          ORDER BY runs.id DESC LIMIT $3) r
      ORDER BY r.id`,
    [ids, ids.map((id) => after.get(id) ?? null), perEndpoint],
  );
  return rows.map(toRun);
}
