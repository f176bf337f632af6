import type { MachineState } from '@tickwise/machines';
import type { Queryable } from '../pool.ts';
import type { RunStatus } from './run-record.ts';
import { SUMMARY_COLUMNS, toRun, type RawRun, type StoredRun } from './runs.ts';

// Tenant-scoped reads of the machine visualizer: endpoint summaries for the overview, and leases,
// last runs and takeovers per scheduler node. Every one takes the tenant id first and filters on it.

export interface SummaryFilter {
  jobId?: string | null;
  states?: readonly MachineState[] | null;
  /** Part of the name, compared without regard to case. */
  nameContains?: string | null;
  includeArchived?: boolean;
}

/** One of an endpoint's latest runs, as a sparkline point. */
export interface RunPoint {
  id: string;
  status: RunStatus;
  durationMs: number;
  httpStatus: number | null;
  finishedAt: Date;
}

export interface EndpointSummaryRow {
  id: string;
  jobId: string;
  jobName: string;
  name: string;
  state: MachineState;
  nextRunAt: Date | null;
  reason: string | null;
  pausedReason: string | null;
  archivedAt: Date | null;
  version: number;
  leaseOwner: string | null;
  activeHints: number;
  /** Oldest first. */
  recent: RunPoint[];
  lastRun: StoredRun | null;
}

/**
 * Which of the tenant's endpoint_names (n) match a SummaryFilter: only the state needs the machine row,
 * and only when the filter names states (a null $3 folds the EXISTS away).
 */
const FILTER = `n.tenant_id = $1
  AND ($2::uuid IS NULL OR n.job_id = $2)
  AND ($3::text[] IS NULL OR EXISTS (SELECT 1 FROM endpoints s WHERE s.id = n.endpoint_id AND s.state = ANY ($3::text[])))
  AND ($4::text IS NULL OR strpos(lower(n.name), lower($4)) > 0)
  AND ($5 OR n.archived_at IS NULL)`;

function filterParams(tenantId: string, filter: SummaryFilter): unknown[] {
  return [tenantId, filter.jobId ?? null, filter.states && filter.states.length > 0 ? filter.states : null, filter.nameContains || null, filter.includeArchived ?? false];
}

/** How many of the tenant's endpoints match the filter. */
export async function countEndpoints(db: Queryable, tenantId: string, filter: SummaryFilter): Promise<number> {
  const { rows } = await db.query<{ count: string }>(`SELECT count(*) FROM endpoint_names n WHERE ${FILTER}`, filterParams(tenantId, filter));
  return Number(rows[0]!.count);
}

interface RawSummary {
  id: string;
  job_id: string;
  job_name: string;
  name: string;
  state: MachineState;
  next_run_at: Date | null;
  reason: string | null;
  paused_reason: string | null;
  archived_at: Date | null;
  version: number;
  lease_owner: string | null;
  active_hints: string;
  recent: { id: string; status: RunStatus; duration_ms: number; http_status: number | null; finished_at: string }[] | null;
}

/**
 * A page of the tenant's endpoints in creation order, each with its `recentRuns` latest runs (one
 * index range of runs per endpoint) and its count of active hints; then the full rows of the latest
 * runs, by primary key.
 */
export async function endpointSummaries(db: Queryable, tenantId: string, options: SummaryFilter & { limit: number; afterId?: string | null; recentRuns: number }): Promise<EndpointSummaryRow[]> {
  const { rows } = await db.query<RawSummary>(
    `SELECT e.id, e.job_id, j.name AS job_name, e.name, e.state, e.next_run_at, e.reason, e.paused_reason, e.archived_at,
            e.version, e.lease_owner,
            (SELECT count(*) FROM hints h WHERE h.endpoint_id = e.id AND h.cleared_at IS NULL AND h.expires_at > now()) AS active_hints,
            (SELECT jsonb_agg(jsonb_build_object('id', r.id, 'status', r.status, 'duration_ms', r.duration_ms,
                                                 'http_status', r.http_status, 'finished_at', r.finished_at) ORDER BY r.id)
               FROM (SELECT id, status, duration_ms, http_status, finished_at FROM runs
                      WHERE runs.endpoint_id = e.id ORDER BY runs.id DESC LIMIT $8) r) AS recent
       FROM endpoint_names n JOIN endpoints e ON e.id = n.endpoint_id JOIN jobs j ON j.id = n.job_id
      WHERE ${FILTER} AND ($6::uuid IS NULL OR n.endpoint_id > $6)
      ORDER BY n.endpoint_id LIMIT $7`,
    [...filterParams(tenantId, options), options.afterId ?? null, options.limit, options.recentRuns],
  );
  const summaries = rows.map((row) => ({
    id: row.id,
    jobId: row.job_id,
    jobName: row.job_name,
    name: row.name,
    state: row.state,
    nextRunAt: row.next_run_at,
    reason: row.reason,
    pausedReason: row.paused_reason,
    archivedAt: row.archived_at,
    version: row.version,
    leaseOwner: row.lease_owner,
    activeHints: Number(row.active_hints),
    recent: (row.recent ?? []).map((point) => ({ id: point.id, status: point.status, durationMs: point.duration_ms, httpStatus: point.http_status, finishedAt: new Date(point.finished_at) })),
    lastRun: null as StoredRun | null,
  }));
  const lastIds = summaries.flatMap((summary) => (summary.recent.length > 0 ? [summary.recent.at(-1)!.id] : []));
  if (lastIds.length > 0) {
    const last = await runsById(db, lastIds);
    for (const summary of summaries) summary.lastRun = last.get(summary.recent.at(-1)?.id ?? '') ?? null;
  }
  return summaries;
}

/** Runs by id, without their response bodies. */
async function runsById(db: Queryable, ids: readonly string[]): Promise<Map<string, StoredRun>> {
  const { rows } = await db.query<RawRun>(`SELECT ${SUMMARY_COLUMNS} FROM runs WHERE id = ANY ($1::uuid[])`, [ids]);
  return new Map(rows.map((row) => [row.id, toRun(row)]));
}

export interface LeaseRow {
  endpointId: string;
  jobId: string;
  name: string;
  state: MachineState;
  worker: string;
  expiresAt: Date;
  expired: boolean;
  claimedSlot: Date | null;
  attempt: number;
}

export interface NodeLeases {
  worker: string;
  leaseCount: number;
  expiredCount: number;
  /** Soonest expiry first, at most the limit asked for. */
  leases: LeaseRow[];
}

/** The leases held on the tenant's machines, grouped by node; the database's clock judges expiry. */
export async function tenantLeases(db: Queryable, tenantId: string, perNode: number): Promise<{ nodes: NodeLeases[]; at: Date }> {
  const { rows } = await db.query<{
    id: string;
    job_id: string;
    name: string;
    state: MachineState;
    lease_owner: string;
    lease_expires_at: Date;
    expired: boolean;
    claimed_slot: Date | null;
    attempt: number;
    lease_count: string;
    expired_count: string;
    rank: string;
    at: Date;
  }>(
    `SELECT * FROM (
       SELECT e.id, e.job_id, e.name, e.state, e.lease_owner, e.lease_expires_at, e.lease_expires_at < now() AS expired,
              e.claimed_slot, e.attempt,
              count(*) OVER (PARTITION BY e.lease_owner) AS lease_count,
              count(*) FILTER (WHERE e.lease_expires_at < now()) OVER (PARTITION BY e.lease_owner) AS expired_count,
              row_number() OVER (PARTITION BY e.lease_owner ORDER BY e.lease_expires_at, e.id) AS rank,
              now() AS at
         FROM endpoints e
        WHERE e.tenant_id = $1 AND e.lease_owner IS NOT NULL) leased
      WHERE rank <= $2
      ORDER BY lease_owner, rank`,
    [tenantId, perNode],
  );
  const nodes = new Map<string, NodeLeases>();
  for (const row of rows) {
    let node = nodes.get(row.lease_owner);
    if (!node) nodes.set(row.lease_owner, (node = { worker: row.lease_owner, leaseCount: Number(row.lease_count), expiredCount: Number(row.expired_count), leases: [] }));
    node.leases.push({
      endpointId: row.id,
      jobId: row.job_id,
      name: row.name,
      state: row.state,
      worker: row.lease_owner,
      expiresAt: row.lease_expires_at,
      expired: row.expired,
      claimedSlot: row.claimed_slot,
      attempt: row.attempt,
    });
  }
  const at = rows[0]?.at ?? (await db.query<{ now: Date }>('SELECT now()')).rows[0]!.now;
  return { nodes: [...nodes.values()], at };
}

/** For each node: how many of the tenant's live endpoints it ran last, and when the latest of those runs finished. */
export async function lastRunsByWorker(db: Queryable, tenantId: string): Promise<{ worker: string; endpoints: number; lastRunAt: Date }[]> {
  const { rows } = await db.query<{ worker: string; endpoints: string; last_run_at: Date }>(
    `SELECT r.worker, count(*) AS endpoints, max(r.finished_at) AS last_run_at
       FROM endpoint_names n
       CROSS JOIN LATERAL (SELECT worker, finished_at FROM runs WHERE runs.endpoint_id = n.endpoint_id ORDER BY runs.id DESC LIMIT 1) r
      WHERE n.tenant_id = $1 AND n.archived_at IS NULL
      GROUP BY r.worker
      ORDER BY max(r.finished_at) DESC`,
    [tenantId],
  );
  return rows.map((row) => ({ worker: row.worker, endpoints: Number(row.endpoints), lastRunAt: row.last_run_at }));
}

export interface TakeoverRow {
  endpointId: string;
  name: string;
  at: Date;
  worker: string | null;
  reason: string | null;
  /** The attempt of the run that followed, when there was one. */
  attempt: number | null;
}

/** The tenant's takeovers since `since`, newest first (through the partial takeover index). */
export async function recentTakeovers(db: Queryable, tenantId: string, since: Date, limit: number): Promise<TakeoverRow[]> {
  const { rows } = await db.query<{ endpoint_id: string; name: string; at: Date; worker: string | null; reason: string | null; attempt: number | null }>(
    `SELECT t.endpoint_id, e.name, t.at, t.worker, t.steps -> 0 ->> 'reason' AS reason, r.attempt
       FROM endpoint_transitions t
       JOIN endpoints e ON e.id = t.endpoint_id
       LEFT JOIN runs r ON r.id = t.run_id
      WHERE (t.steps -> 0 ->> 'event') = 'TAKE_OVER' AND t.at >= $2 AND e.tenant_id = $1
      ORDER BY t.at DESC LIMIT $3`,
    [tenantId, since, limit],
  );
  return rows.map((row) => ({ endpointId: row.endpoint_id, name: row.name, at: row.at, worker: row.worker, reason: row.reason, attempt: row.attempt }));
}
