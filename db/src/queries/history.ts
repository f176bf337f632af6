import type { MachineState } from '@tickwise/machines';
import type { Queryable } from '../pool.ts';
import { finishReason, routineSteps } from './routine-cycle.ts';
import type { RunStatus } from './run-record.ts';

/** One step of an endpoint's machine, as the history keeps it. */
export interface HistoryStep {
  /** Which write of the machine it belonged to (counts up). */
  seq: number;
  from: MachineState | null;
  to: MachineState;
  event: string;
  at: Date;
  reason: string | null;
  nextRunAt: Date | null;
  runId: string | null;
  worker: string | null;
  /** Slots this step passed over without running them, and why (`catch_up`, `overlap`, `paused`). */
  skipped?: { count: number; why: string };
}

type StoredStep = { [K in 'from' | 'to' | 'event' | 'at' | 'reason' | 'nextRunAt' | 'runId']?: string | null } & { skipped?: { count: number; why: string } };

type HistoryRow =
  | { seq: string; steps: StoredStep[]; worker: string | null; run_id: null }
  | { seq: string; steps: null; worker: string; run_id: string; claimed_at: Date; started_at: Date; finished_at: Date; status: RunStatus; http_status: number | null; error_kind: string | null; error_message: string | null; plan_reason: string | null; next_run_at: Date | null };

/**
 * The steps of the last `writes` writes of an endpoint's machine, oldest first: the history rows (the
 * last 100 writes that were not routine) and the routine cycles its runs keep (routine-cycle.ts), as
 * far back as runs are kept (TICKWISE_RUN_RETENTION).
 */
export async function machineHistory(db: Queryable, endpointId: string, writes = 100): Promise<HistoryStep[]> {
  const { rows } = await db.query<HistoryRow>(
    `(SELECT seq, steps, worker, NULL::uuid AS run_id, NULL::timestamptz AS claimed_at, NULL::timestamptz AS started_at, NULL::timestamptz AS finished_at,
             NULL AS status, NULL::integer AS http_status, NULL AS error_kind, NULL AS error_message, NULL AS plan_reason, NULL::timestamptz AS next_run_at
        FROM endpoint_transitions WHERE endpoint_id = $1 ORDER BY seq DESC LIMIT $2)
     UNION ALL
     (SELECT cycle_seq, NULL, worker, id, claimed_at, started_at, finished_at, status, http_status, error_kind, error_message, plan_reason, next_run_at
        FROM runs WHERE endpoint_id = $1 AND cycle_seq IS NOT NULL ORDER BY id DESC LIMIT $2)`,
    [endpointId, writes],
  );
  const newest = rows.sort((a, b) => Number(b.seq) - Number(a.seq)).slice(0, writes);
  return newest.reverse().flatMap((row) => {
    const seq = Number(row.seq);
    const steps = row.steps ?? routineStepsOf(row);
    return steps.map((step) => ({
      seq,
      from: (step.from ?? null) as MachineState | null,
      to: step.to as MachineState,
      event: step.event!,
      at: new Date(step.at!),
      reason: step.reason ?? null,
      nextRunAt: step.nextRunAt ? new Date(step.nextRunAt) : null,
      runId: step.runId ?? null,
      worker: row.worker,
      ...(step.skipped ? { skipped: step.skipped } : {}),
    }));
  });
}

function routineStepsOf(row: Extract<HistoryRow, { steps: null }>): StoredStep[] {
  const outcome = { status: row.status, httpStatus: row.http_status, errorKind: row.error_kind, errorMessage: row.error_message };
  return routineSteps({ runId: row.run_id, claimedAt: row.claimed_at, startedAt: row.started_at, finishedAt: row.finished_at, finishReason: finishReason(outcome), planReason: row.plan_reason, nextRunAt: row.next_run_at });
}

export interface SkippedEntry {
  at: Date;
  count: number;
  why: string;
  reason: string | null;
}

/**
 * The steps of an endpoint's history that skipped slots, newest first, at or after `since` and before
 * `until` (either may be null), as far back as the history reaches.
 */
export async function skippedSlots(db: Queryable, endpointId: string, window: { since: Date | null; until: Date | null }): Promise<SkippedEntry[]> {
  const { rows } = await db.query<{ at: string; count: number; why: string; reason: string | null }>(
    `SELECT s.step ->> 'at' AS at, (s.step -> 'skipped' ->> 'count')::int AS count, s.step -> 'skipped' ->> 'why' AS why, s.step ->> 'reason' AS reason
       FROM endpoint_transitions t CROSS JOIN LATERAL jsonb_array_elements(t.steps) AS s(step)
      WHERE t.endpoint_id = $1 AND s.step ? 'skipped'
        AND ($2::timestamptz IS NULL OR (s.step ->> 'at')::timestamptz >= $2)
        AND ($3::timestamptz IS NULL OR (s.step ->> 'at')::timestamptz < $3)
      ORDER BY (s.step ->> 'at')::timestamptz DESC`,
    [endpointId, window.since, window.until],
  );
  return rows.map((row) => ({ at: new Date(row.at), count: row.count, why: row.why, reason: row.reason }));
}
