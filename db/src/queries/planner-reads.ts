import type { EndpointSpec } from '@tickwise/machines';
import type { Queryable } from '../pool.ts';
import type { RunRecord } from './run-record.ts';

/** A finished run as the planner folds it: the fields of the run (and its event) it needs. */
export type PlannerRun = Pick<RunRecord, 'id' | 'status' | 'httpStatus' | 'durationMs' | 'errorKind' | 'retryAfterMs' | 'finishedAt' | 'lastAttempt'> & {
  /** Dispatch start − slot, in ms. */
  latenessMs: number;
};

/** What the planner knows of an endpoint when it first meets it (or after a restart). */
export interface PlannerEndpoint {
  id: string;
  jobId: string;
  spec: EndpointSpec;
  archived: boolean;
  /** Oldest first. */
  recentRuns: PlannerRun[];
}

/**
 * The spec and the last `perEndpoint` runs of each endpoint: the planner rebuilds its state from
 * this, so a restart or a redelivered event changes nothing.
 */
export async function plannerEndpoints(db: Queryable, endpointIds: readonly string[], perEndpoint: number): Promise<Map<string, PlannerEndpoint>> {
  const result = new Map<string, PlannerEndpoint>();
  // An id given twice would read its runs twice (the lateral join runs per id).
  const ids = [...new Set(endpointIds)];
  if (ids.length === 0) return result;
  const { rows: endpoints } = await db.query<{ id: string; job_id: string; spec: EndpointSpec; archived_at: Date | null }>(
    'SELECT id, job_id, spec, archived_at FROM endpoints WHERE id = ANY ($1::uuid[])',
    [ids],
  );
  for (const row of endpoints) result.set(row.id, { id: row.id, jobId: row.job_id, spec: row.spec, archived: row.archived_at !== null, recentRuns: [] });
  if (perEndpoint === 0 || result.size === 0) return result;
  const { rows: runs } = await db.query<{
    id: string;
    endpoint_id: string;
    status: 'succeeded' | 'failed';
    http_status: number | null;
    duration_ms: number;
    lateness_ms: number;
    error_kind: string | null;
    retry_after_ms: string | null;
    finished_at: Date;
    last_attempt: boolean | null;
  }>(
    `SELECT r.id, r.endpoint_id, r.status, r.http_status, r.duration_ms,
            extract(epoch FROM (r.started_at - r.slot)) * 1000 AS lateness_ms, r.error_kind, r.retry_after_ms, r.finished_at, r.last_attempt
       FROM unnest($1::uuid[]) AS e(id)
       CROSS JOIN LATERAL (SELECT * FROM runs WHERE runs.endpoint_id = e.id ORDER BY runs.id DESC LIMIT $2) r
      ORDER BY r.id`,
    [ids, perEndpoint],
  );
  for (const run of runs) {
    result.get(run.endpoint_id)?.recentRuns.push({
      id: run.id,
      status: run.status,
      httpStatus: run.http_status,
      durationMs: run.duration_ms,
      latenessMs: Number(run.lateness_ms),
      errorKind: run.error_kind,
      retryAfterMs: run.retry_after_ms === null ? null : Number(run.retry_after_ms),
      finishedAt: run.finished_at,
      // Runs written before retries existed have none: each was its slot's only attempt.
      lastAttempt: run.last_attempt !== false,
    });
  }
  return result;
}
