import { storedNotifyTargets, type MachineState, type NotifyTarget } from '@tickwise/machines';
import type { Queryable } from '../pool.ts';
import { toEndpointRow, type EndpointRow, type RawEndpointRow } from './endpoint-row.ts';

// Tenant-scoped reads for the API. Every one takes the tenant id first and filters on it, so an id
// of another tenant reads exactly as an id that does not exist.

export interface JobView {
  id: string;
  tenantId: string;
  name: string;
  synthetic: boolean;
  createdAt: Date;
  updatedAt: Date;
  archivedAt: Date | null;
  /** Endpoints of the job that are not archived. */
  endpointCount: number;
  /** Who is told of its endpoints failing, recovering or being paused. */
  notify: NotifyTarget[];
}

interface RawJob {
  id: string;
  tenant_id: string;
  name: string;
  synthetic: boolean;
  created_at: Date;
  updated_at: Date;
  archived_at: Date | null;
  endpoint_count: string;
  notify: unknown;
}

const JOB_COLUMNS = `j.id, j.tenant_id, j.name, j.synthetic, j.created_at, j.updated_at, j.archived_at, j.notify,
  (SELECT count(*) FROM endpoint_names n WHERE n.job_id = j.id AND n.archived_at IS NULL) AS endpoint_count`;

function toJob(row: RawJob): JobView {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    name: row.name,
    synthetic: row.synthetic,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    archivedAt: row.archived_at,
    endpointCount: Number(row.endpoint_count),
    notify: storedNotifyTargets(row.notify),
  };
}

export async function getJob(db: Queryable, tenantId: string, jobId: string): Promise<JobView | null> {
  const { rows } = await db.query<RawJob>(`SELECT ${JOB_COLUMNS} FROM jobs j WHERE j.tenant_id = $1 AND j.id = $2`, [tenantId, jobId]);
  return rows[0] ? toJob(rows[0]) : null;
}

export interface ListJobsOptions {
  limit: number;
  /** The name of the last job of the previous page. */
  afterName?: string | null;
  namePrefix?: string | null;
  includeArchived?: boolean;
}

/** A tenant's jobs ordered by name (unique per tenant), through the (tenant_id, name) index. */
export async function listJobs(db: Queryable, tenantId: string, options: ListJobsOptions): Promise<JobView[]> {
  const { rows } = await db.query<RawJob>(
    `SELECT ${JOB_COLUMNS} FROM jobs j
      WHERE j.tenant_id = $1 AND ($3::text IS NULL OR j.name > $3)
        AND ($4::text IS NULL OR left(j.name, char_length($4)) = $4)
        AND ($5 OR j.archived_at IS NULL)
      ORDER BY j.name LIMIT $2`,
    [tenantId, options.limit, options.afterName ?? null, options.namePrefix ?? null, options.includeArchived ?? false],
  );
  return rows.map(toJob);
}

export async function countJobs(db: Queryable, tenantId: string): Promise<number> {
  const { rows } = await db.query<{ count: string }>('SELECT count(*) FROM jobs WHERE tenant_id = $1', [tenantId]);
  return Number(rows[0]!.count);
}

/** An endpoint's row with what the API shows besides the machine. */
export interface EndpointView extends EndpointRow {
  tenantId: string;
  pausedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

type RawEndpointView = RawEndpointRow & { tenant_id: string; paused_at: Date | null; created_at: Date; updated_at: Date };

function toEndpointView(row: RawEndpointView): EndpointView {
  return { ...toEndpointRow(row), tenantId: row.tenant_id, pausedAt: row.paused_at, createdAt: row.created_at, updatedAt: row.updated_at };
}

export async function getEndpoint(db: Queryable, tenantId: string, endpointId: string): Promise<EndpointView | null> {
  const { rows } = await db.query<RawEndpointView>('SELECT * FROM endpoints WHERE tenant_id = $1 AND id = $2', [tenantId, endpointId]);
  return rows[0] ? toEndpointView(rows[0]) : null;
}

/** The endpoint, locked for the rest of the transaction, if it is the tenant's. */
export async function lockTenantEndpoint(db: Queryable, tenantId: string, endpointId: string): Promise<EndpointView | null> {
  const { rows } = await db.query<RawEndpointView>('SELECT * FROM endpoints WHERE tenant_id = $1 AND id = $2 FOR UPDATE', [tenantId, endpointId]);
  return rows[0] ? toEndpointView(rows[0]) : null;
}

export interface ListEndpointsOptions {
  limit: number;
  /** The id of the last endpoint of the previous page. */
  afterId?: string | null;
  jobId?: string | null;
  states?: readonly MachineState[] | null;
  namePrefix?: string | null;
  includeArchived?: boolean;
}

/** A tenant's endpoints in creation order (UUIDv7 ids), through endpoint_names' (tenant_id, endpoint_id) index. */
export async function listEndpoints(db: Queryable, tenantId: string, options: ListEndpointsOptions): Promise<EndpointView[]> {
  const { rows } = await db.query<RawEndpointView>(
    `SELECT e.* FROM endpoint_names n JOIN endpoints e ON e.id = n.endpoint_id
      WHERE n.tenant_id = $1 AND ($3::uuid IS NULL OR n.endpoint_id > $3) AND ($4::uuid IS NULL OR n.job_id = $4)
        AND ($5::text[] IS NULL OR e.state = ANY ($5::text[]))
        AND ($6::text IS NULL OR left(n.name, char_length($6)) = $6)
        AND ($7 OR n.archived_at IS NULL)
      ORDER BY n.endpoint_id LIMIT $2`,
    [
      tenantId,
      options.limit,
      options.afterId ?? null,
      options.jobId ?? null,
      options.states && options.states.length > 0 ? options.states : null,
      options.namePrefix ?? null,
      options.includeArchived ?? false,
    ],
  );
  return rows.map(toEndpointView);
}

export async function countEndpointsOfJob(db: Queryable, jobId: string): Promise<number> {
  const { rows } = await db.query<{ count: string }>('SELECT count(*) FROM endpoint_names WHERE job_id = $1', [jobId]);
  return Number(rows[0]!.count);
}

/** Which of these endpoint ids are the tenant's. */
export async function tenantEndpointIds(db: Queryable, tenantId: string, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const { rows } = await db.query<{ id: string }>('SELECT id FROM endpoints WHERE tenant_id = $1 AND id = ANY ($2::uuid[])', [tenantId, ids]);
  return new Set(rows.map((row) => row.id));
}

/** Which of these job ids are the tenant's. */
export async function tenantJobIds(db: Queryable, tenantId: string, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const { rows } = await db.query<{ id: string }>('SELECT id FROM jobs WHERE tenant_id = $1 AND id = ANY ($2::uuid[])', [tenantId, ids]);
  return new Set(rows.map((row) => row.id));
}

/** What a watch compares between two looks at a machine. */
export interface MachineGlance {
  id: string;
  tenantId: string;
  jobId: string;
  name: string;
  state: MachineState;
  nextRunAt: Date | null;
  reason: string | null;
  version: number;
  pausedReason: string | null;
  archivedAt: Date | null;
}

/** What a watch looks at: whole tenants, and for tenants whose watchers all filter, only those endpoints or jobs. */
export interface WatchScope {
  tenantIds: readonly string[];
  scopedTenantIds: readonly string[];
  endpointIds: readonly string[];
  jobIds: readonly string[];
}

/**
 * The id, version and state of every machine in the scope: the cheap part of a watch's look (the
 * scope's tenants through endpoint_names' tenant index, kept whole or to those ids and jobs, then three
 * small columns by id), read every look.
 */
export async function machineVersions(db: Queryable, scope: WatchScope): Promise<Map<string, { version: number; state: MachineState }>> {
  if (scope.tenantIds.length === 0 && scope.scopedTenantIds.length === 0) return new Map();
  const { rows } = await db.query<{ id: string; version: number; state: MachineState }>(
    `SELECT e.id, e.version, e.state FROM endpoint_names n JOIN endpoints e ON e.id = n.endpoint_id
      WHERE n.tenant_id = ANY ($1::uuid[] || $2::uuid[])
        AND (n.tenant_id = ANY ($1::uuid[]) OR n.endpoint_id = ANY ($3::uuid[]) OR n.job_id = ANY ($4::uuid[]))`,
    [scope.tenantIds, scope.scopedTenantIds, scope.endpointIds, scope.jobIds],
  );
  return new Map(rows.map((row) => [row.id, { version: row.version, state: row.state }]));
}

/** What a person watching sees of these machines (read only for those whose version moved). */
export async function glanceMachines(db: Queryable, ids: readonly string[]): Promise<MachineGlance[]> {
  if (ids.length === 0) return [];
  const { rows } = await db.query<{
    id: string;
    tenant_id: string;
    job_id: string;
    name: string;
    state: MachineState;
    next_run_at: Date | null;
    reason: string | null;
    version: number;
    paused_reason: string | null;
    archived_at: Date | null;
  }>('SELECT id, tenant_id, job_id, name, state, next_run_at, reason, version, paused_reason, archived_at FROM endpoints WHERE id = ANY ($1::uuid[])', [ids]);
  return rows.map((row) => ({
    id: row.id,
    tenantId: row.tenant_id,
    jobId: row.job_id,
    name: row.name,
    state: row.state,
    nextRunAt: row.next_run_at,
    reason: row.reason,
    version: row.version,
    pausedReason: row.paused_reason,
    archivedAt: row.archived_at,
  }));
}

/** Whether the endpoint has that hint, not cleared and not expired. */
export async function isActiveHint(db: Queryable, endpointId: string, hintId: string): Promise<boolean> {
  const { rows } = await db.query('SELECT 1 FROM hints WHERE endpoint_id = $1 AND id = $2 AND cleared_at IS NULL AND expires_at > now()', [endpointId, hintId]);
  return rows.length > 0;
}

/** Active hints of one source on an endpoint: the API caps a person's hints per endpoint. */
export async function countActiveHints(db: Queryable, endpointId: string, source: string): Promise<number> {
  const { rows } = await db.query<{ count: string }>(
    'SELECT count(*) FROM hints WHERE endpoint_id = $1 AND source = $2 AND cleared_at IS NULL AND expires_at > now()',
    [endpointId, source],
  );
  return Number(rows[0]!.count);
}

/** An analysis's endpoint, if that endpoint is the tenant's: the guard before reading it. */
export async function analysisOfTenant(db: Queryable, tenantId: string, analysisId: string): Promise<boolean> {
  const { rows } = await db.query(
    'SELECT 1 FROM analyses a WHERE a.id = $2 AND EXISTS (SELECT 1 FROM endpoints e WHERE e.id = a.endpoint_id AND e.tenant_id = $1)',
    [tenantId, analysisId],
  );
  return rows.length > 0;
}
