import type { Columns } from '../columns.ts';

export const RUN_STATUSES = ['succeeded', 'failed'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/**
 * One run, from the call to the row in `runs`: the one shape of a run. The others derive from it:
 * the dispatcher's outcome (`RunOutcome`), the columns written (`runColumns`), a run read back
 * (`StoredRun`), what the planner folds (`PlannerRun`). The run event of the outbox is built from
 * the row, in one place: `tickwise_commit` (db/schema.sql), which db/test/run-events.test.ts ties to
 * the zod contract of @tickwise/events.
 */
export interface RunRecord {
  /** UUIDv7 made by the node before the call: the run's id, the event's id, the X-Tickwise-Run header. */
  id: string;
  endpointId: string;
  jobId: string;
  /** The slot this run is for (its scheduled time). */
  slot: Date;
  /** The attempt at the slot: 1, then +1 for each retry and each takeover of the same slot. */
  attempt: number;
  /** Whether no other attempt at this slot follows (the slot's outcome is this run's). */
  lastAttempt: boolean;
  /** The node that made the call. */
  worker: string;
  status: RunStatus;
  httpStatus: number | null;
  durationMs: number;
  startedAt: Date;
  finishedAt: Date;
  /** One of the dispatcher's closed set of error kinds; null when it succeeded. */
  errorKind: string | null;
  errorMessage: string | null;
  /** At most 64 KiB of the answer. */
  responseBody: string | null;
  responseTruncated: boolean;
  /** What planned the slot (`baseline`, `hint_interval`, ...). */
  plannedSource: string | null;
  /** Retry-After of a 429/503 answer, in ms. */
  retryAfterMs: number | null;
}

/** What one call came to: the fields of a run the call decides, and no others. */
export type RunOutcome = Pick<RunRecord, 'status' | 'httpStatus' | 'durationMs' | 'errorKind' | 'errorMessage' | 'responseBody' | 'responseTruncated' | 'retryAfterMs'>;

/**
 * The run as `runs` spells its columns (what `tickwise_commit` populates the rows from). Spelled out
 * field by field: every run then has the same shape, which JSON.stringify serialises fastest, and
 * the type still fails to compile if a field of RunRecord is left out. Pure.
 */
export function runColumns(run: RunRecord): Columns<RunRecord> {
  return {
    id: run.id,
    endpoint_id: run.endpointId,
    job_id: run.jobId,
    slot: run.slot,
    attempt: run.attempt,
    last_attempt: run.lastAttempt,
    worker: run.worker,
    status: run.status,
    http_status: run.httpStatus,
    duration_ms: run.durationMs,
    started_at: run.startedAt,
    finished_at: run.finishedAt,
    error_kind: run.errorKind,
    error_message: run.errorMessage,
    response_body: run.responseBody,
    response_truncated: run.responseTruncated,
    planned_source: run.plannedSource,
    retry_after_ms: run.retryAfterMs,
  };
}
