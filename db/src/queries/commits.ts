import type { MachineState, PersistedSnapshot } from '@tickwise/machines';
import type { Queryable } from '../pool.ts';

export const RUN_STATUSES = ['succeeded', 'failed'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** A finished run, as stored in `runs`. */
export interface RunRecord {
  id: string;
  endpointId: string;
  jobId: string;
  slot: Date;
  attempt: number;
  worker: string;
  status: RunStatus;
  httpStatus: number | null;
  durationMs: number;
  startedAt: Date;
  finishedAt: Date;
  errorKind: string | null;
  errorMessage: string | null;
  responseBody: string | null;
  responseTruncated: boolean;
  plannedSource: string | null;
  /** Retry-After of a 429/503 answer, in ms. */
  retryAfterMs?: number | null;
}

export interface TransitionRow {
  from: MachineState | null;
  to: MachineState;
  event: string;
  at: string;
  reason?: string | null;
  nextRunAt?: string | null;
  runId?: string | null;
}

/** A machine as the machine code left it, to be written if nobody wrote it since `expectedVersion`. */
export interface MachineWrite {
  id: string;
  expectedVersion: number;
  state: MachineState;
  snapshot: PersistedSnapshot;
  nextRunAt: Date | null;
  reason: string | null;
  claimedSlot: Date | null;
  transitions: TransitionRow[];
  /** The endpoint's hint_version the plan accounted for; omitted: unchanged. */
  plannedHintVersion?: number;
}

function runJson(run: RunRecord) {
  return {
    id: run.id,
    endpoint_id: run.endpointId,
    job_id: run.jobId,
    slot: run.slot,
    attempt: run.attempt,
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
    retry_after_ms: run.retryAfterMs ?? null,
  };
}

function machineJson(write: MachineWrite) {
  return {
    id: write.id,
    expected_version: write.expectedVersion,
    state: write.state,
    snapshot: write.snapshot,
    next_run_at: write.nextRunAt,
    reason: write.reason,
    claimed_slot: write.claimedSlot,
    transitions: write.transitions,
    planned_hint_version: write.plannedHintVersion ?? null,
  };
}

export interface Committed {
  version: number;
  /** A person's pause present on the row after the write. */
  pause: { reason: string; until: Date | null } | null;
}

/**
 * Records runs and writes machines in one statement. `worker` must hold the lease of every machine
 * (null: nobody may hold it). Returns the new version of each machine that was written; a machine
 * missing from the result was changed by someone else (version) or lost its lease.
 */
export async function commitMachines(db: Queryable, worker: string | null, runs: readonly RunRecord[], machines: readonly MachineWrite[]): Promise<Map<string, Committed>> {
  if (runs.length === 0 && machines.length === 0) return new Map();
  const { rows } = await db.query<{ endpoint_id: string; version: number; paused_reason: string | null; paused_until: Date | null }>('SELECT * FROM tickwise_commit($1, $2::jsonb, $3::jsonb)', [
    worker,
    JSON.stringify(runs.map(runJson)),
    JSON.stringify(machines.map(machineJson)),
  ]);
  return new Map(
    rows.map((row) => [row.endpoint_id, { version: row.version, pause: row.paused_reason === null ? null : { reason: row.paused_reason, until: row.paused_until } }]),
  );
}
