import type { Queryable } from '../pool.ts';

export interface Overview {
  dueNow: number;
  leased: number;
  running: number;
  expiredLeases: number;
  paused: number;
  failuresLastHour: number;
  runsLastHour: number;
}

/** The monitoring view `tickwise_overview`. */
export async function overview(db: Queryable): Promise<Overview> {
  const { rows } = await db.query<Record<string, string>>('SELECT * FROM tickwise_overview');
  const row = rows[0]!;
  return {
    dueNow: Number(row.due_now),
    leased: Number(row.leased),
    running: Number(row.running),
    expiredLeases: Number(row.expired_leases),
    paused: Number(row.paused),
    failuresLastHour: Number(row.failures_last_hour),
    runsLastHour: Number(row.runs_last_hour),
  };
}

export interface PruneResult {
  runs: number;
  transitions: number;
  hints: number;
}

/** Deletes at most `limit` rows of each kind older than `before`; call again while it deletes. */
export async function prune(db: Queryable, before: Date, limit: number): Promise<PruneResult> {
  const { rows } = await db.query<{ runs_deleted: number; transitions_deleted: number; hints_deleted: number }>('SELECT * FROM tickwise_prune($1, $2)', [before, limit]);
  const row = rows[0]!;
  return { runs: row.runs_deleted, transitions: row.transitions_deleted, hints: row.hints_deleted };
}
