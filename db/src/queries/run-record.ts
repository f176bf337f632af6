export const RUN_STATUSES = ['succeeded', 'failed'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/**
 * One run, from the call to the row in `runs`: the one shape of a run. The others derive from it:
 * the dispatcher's outcome (`RunOutcome`), the row written (`runRow`), a run read back
 * (`StoredRun`), what the planner folds (`PlannerRun`). The run event of the outbox is built from
 * the row, in one place: `tickwise_commit_rows` (db/schema.sql), which db/test/run-events.test.ts ties to
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
 * The order of a run's fields in the JSON array `tickwise_commit_rows` (migration 0014) reads by
 * position: every field of RunRecord, once (the type below fails to compile otherwise).
 */
export const RUN_ROW_FIELDS = [
  'id', 'endpointId', 'jobId', 'slot', 'attempt', 'lastAttempt', 'worker', 'status', 'httpStatus', 'durationMs',
  'startedAt', 'finishedAt', 'errorKind', 'errorMessage', 'responseBody', 'responseTruncated', 'plannedSource', 'retryAfterMs',
] as const satisfies readonly (keyof RunRecord)[];

const everyRunField: Exclude<keyof RunRecord, (typeof RUN_ROW_FIELDS)[number]> extends never ? true : never = true;
void everyRunField;

/** A run as the array `tickwise_commit_rows` reads: its fields in RUN_ROW_FIELDS order. */
export type RunRow = FieldsOf<RunRecord, typeof RUN_ROW_FIELDS>;

/** The values of `Fields` of a T, as a tuple in that order. */
type FieldsOf<T, Fields extends readonly (keyof T)[]> = { -readonly [I in keyof Fields]: T[Fields[I] & keyof T] };

/**
 * The run as `tickwise_commit_rows` reads it. Spelled out, not mapped over RUN_ROW_FIELDS: a literal
 * array is what JSON.stringify serialises fastest; a unit test holds the two in the same order. Pure.
 */
export function runRow(run: RunRecord): RunRow {
  return [
    run.id, run.endpointId, run.jobId, run.slot, run.attempt, run.lastAttempt, run.worker, run.status, run.httpStatus, run.durationMs,
    run.startedAt, run.finishedAt, run.errorKind, run.errorMessage, run.responseBody, run.responseTruncated, run.plannedSource, run.retryAfterMs,
  ];
}
