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
