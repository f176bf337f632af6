import type { Queryable } from '../pool.ts';
import { ENDPOINT_ROW_COLUMNS, toEndpointRow, type EndpointRow, type RawEndpointRow } from './endpoint-row.ts';

export interface ClaimOptions {
  worker: string;
  limit: number;
  leaseMs: number;
  horizon: Date;
  buckets: readonly number[];
  /** Tenants whose machines are left alone this time (they hold their share of the node). */
  excludedTenants?: readonly string[];
}

/** Claims machines due by `horizon` (idle → due, or expired pauses) under a lease. */
export async function claimDue(db: Queryable, options: ClaimOptions): Promise<EndpointRow[]> {
  const { rows } = await db.query<RawEndpointRow>(`SELECT ${ENDPOINT_ROW_COLUMNS} FROM tickwise_claim_due($1, $2, $3, $4, $5::smallint[], $6::uuid[])`, [
    options.worker,
    options.limit,
    options.leaseMs,
    options.horizon,
    options.buckets,
    options.excludedTenants ?? [],
  ]);
  return rows.map(toEndpointRow);
}

/** The tenants with machines due by `horizon`, at most `limit` of them. */
export async function tenantsWithDueWork(db: Queryable, horizon: Date, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ tenant_id: string }>('SELECT tickwise_tenants_due AS tenant_id FROM tickwise_tenants_due($1, $2)', [horizon, limit]);
  return rows.map((row) => row.tenant_id);
}

/** How many tenants have live jobs. */
export async function tenantCount(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT tickwise_tenant_count() AS n');
  return rows[0]?.n ?? 0;
}

/** The earliest time a machine of the buckets falls due, leaving out `excludedTenants`' machines. */
export async function nextDueAt(db: Queryable, buckets: readonly number[], excludedTenants: readonly string[] = []): Promise<Date | null> {
  const { rows } = await db.query<{ at: Date | null }>('SELECT tickwise_next_due_at($1::smallint[], $2::uuid[]) AS at', [buckets, excludedTenants]);
  return rows[0]?.at ?? null;
}

/** A machine taken over, with the node whose lease expired. */
export type TakenOverRow = EndpointRow & { previousOwner: string };

/** Leases machines whose owner's lease expired mid-slot; their slot must be run again. */
export async function takeOverExpired(db: Queryable, worker: string, limit: number, leaseMs: number): Promise<TakenOverRow[]> {
  const { rows } = await db.query<RawEndpointRow & { previous_owner: string }>('SELECT t.previous_owner, (t.machine).* FROM tickwise_take_over_expired_from($1, $2, $3) AS t', [worker, limit, leaseMs]);
  return rows.map((row) => ({ ...toEndpointRow(row), previousOwner: row.previous_owner }));
}

/** Extends this worker's leases; returns the ids it still holds. */
export async function renewLeases(db: Queryable, worker: string, ids: readonly string[], leaseMs: number): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const { rows } = await db.query<{ id: string }>('SELECT tickwise_renew_leases AS id FROM tickwise_renew_leases($1, $2::uuid[], $3)', [worker, ids, leaseMs]);
  return new Set(rows.map((row) => row.id));
}

export async function markRunning(db: Queryable, worker: string, machines: readonly { id: string; version: number }[]): Promise<number> {
  if (machines.length === 0) return 0;
  const { rows } = await db.query<{ count: number }>('SELECT tickwise_mark_running($1, $2::uuid[], $3::int[]) AS count', [
    worker,
    machines.map((m) => m.id),
    machines.map((m) => m.version),
  ]);
  return rows[0]?.count ?? 0;
}
