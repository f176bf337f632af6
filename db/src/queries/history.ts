import type { MachineState } from '@tickwise/machines';
import type { Queryable } from '../pool.ts';

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

/** The steps of the last `writes` writes of an endpoint's machine (at most 100 are kept), oldest first. */
export async function machineHistory(db: Queryable, endpointId: string, writes = 100): Promise<HistoryStep[]> {
  const { rows } = await db.query<{ seq: string; steps: StoredStep[]; worker: string | null }>(
    `SELECT seq, steps, worker FROM endpoint_transitions WHERE endpoint_id = $1 ORDER BY seq DESC LIMIT $2`,
    [endpointId, writes],
  );
  return rows.reverse().flatMap((row) =>
    row.steps.map((step) => ({
      seq: Number(row.seq),
      from: (step.from ?? null) as MachineState | null,
      to: step.to as MachineState,
      event: step.event!,
      at: new Date(step.at!),
      reason: step.reason ?? null,
      nextRunAt: step.nextRunAt ? new Date(step.nextRunAt) : null,
      runId: step.runId ?? null,
      worker: row.worker,
      ...(step.skipped ? { skipped: step.skipped } : {}),
    })),
  );
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
