import type { EndpointSpec, MachineState, PersistedSnapshot } from '@tickwise/machines';
import type { Queryable } from '../pool.ts';
import { toEndpointRow, type EndpointRow, type RawEndpointRow } from './endpoint-row.ts';

export interface JobRow {
  id: string;
  tenantId: string;
  name: string;
  synthetic: boolean;
  archivedAt: Date | null;
}

type RawJobRow = { id: string; tenant_id: string; name: string; synthetic: boolean; archived_at: Date | null };

const toJobRow = (row: RawJobRow): JobRow => ({ id: row.id, tenantId: row.tenant_id, name: row.name, synthetic: row.synthetic, archivedAt: row.archived_at });

/** The tenant's job of that name (names are unique per tenant), locked for the rest of the transaction. */
export async function lockJobByName(db: Queryable, tenantId: string, name: string): Promise<JobRow | null> {
  const { rows } = await db.query<RawJobRow>('SELECT id, tenant_id, name, synthetic, archived_at FROM jobs WHERE tenant_id = $1 AND name = $2 FOR UPDATE', [tenantId, name]);
  return rows[0] ? toJobRow(rows[0]) : null;
}

/** The tenant's job with that id, locked for the rest of the transaction; null for another tenant's. */
export async function lockJob(db: Queryable, tenantId: string, id: string): Promise<JobRow | null> {
  const { rows } = await db.query<RawJobRow>('SELECT id, tenant_id, name, synthetic, archived_at FROM jobs WHERE tenant_id = $1 AND id = $2 FOR UPDATE', [tenantId, id]);
  return rows[0] ? toJobRow(rows[0]) : null;
}

export async function insertJob(db: Queryable, job: { id: string; tenantId: string; name: string; synthetic: boolean }): Promise<void> {
  await db.query('INSERT INTO jobs (id, tenant_id, name, synthetic) VALUES ($1, $2, $3, $4)', [job.id, job.tenantId, job.name, job.synthetic]);
}

export async function archiveJob(db: Queryable, id: string): Promise<void> {
  await db.query('UPDATE jobs SET archived_at = COALESCE(archived_at, now()), updated_at = now() WHERE id = $1', [id]);
}

export async function updateJob(db: Queryable, id: string, changes: { synthetic: boolean }): Promise<void> {
  await db.query('UPDATE jobs SET synthetic = $2, archived_at = NULL, updated_at = now() WHERE id = $1', [id, changes.synthetic]);
}

/** Every endpoint of a job, archived ones included, locked for the rest of the transaction. */
export async function lockEndpointsOfJob(db: Queryable, jobId: string): Promise<EndpointRow[]> {
  const { rows } = await db.query<RawEndpointRow>('SELECT * FROM endpoints WHERE id IN (SELECT endpoint_id FROM endpoint_names WHERE job_id = $1) ORDER BY name FOR UPDATE', [jobId]);
  return rows.map(toEndpointRow);
}

export async function lockEndpoint(db: Queryable, id: string): Promise<EndpointRow | null> {
  const { rows } = await db.query<RawEndpointRow>('SELECT * FROM endpoints WHERE id = $1 FOR UPDATE', [id]);
  return rows[0] ? toEndpointRow(rows[0]) : null;
}

export interface NewEndpoint {
  id: string;
  name: string;
  spec: EndpointSpec;
  bucket: number;
  state: MachineState;
  snapshot: PersistedSnapshot;
}

/**
 * Inserts machines of one job in their initial state (version 1), all in one statement; plan them
 * with `commitMachines`. Their tenant is copied from the job in the same statement, so the two never
 * disagree.
 */
export async function insertEndpoints(db: Queryable, jobId: string, endpoints: readonly NewEndpoint[]): Promise<void> {
  if (endpoints.length === 0) return;
  const { rowCount } = await db.query(
    `INSERT INTO endpoints (id, job_id, tenant_id, name, spec, bucket, state, snapshot)
     SELECT e.id, j.id, j.tenant_id, e.name, e.spec, e.bucket, e.state, e.snapshot
       FROM jobs j, jsonb_to_recordset($2::jsonb) AS e(id uuid, name text, spec jsonb, bucket smallint, state text, snapshot jsonb)
      WHERE j.id = $1`,
    [jobId, JSON.stringify(endpoints)],
  );
  if (rowCount !== endpoints.length) throw new Error(`job ${jobId} does not exist`);
}

/** Replaces the spec; the machine itself is written separately (and only when nobody leases it). */
export async function updateEndpointSpec(db: Queryable, id: string, spec: EndpointSpec): Promise<void> {
  await db.query('UPDATE endpoints SET spec = $2, archived_at = NULL, updated_at = now() WHERE id = $1', [id, spec]);
}

/**
 * Archives machines. A free one's version is bumped so watchers see the change; a leased one keeps
 * its version, or its node's commit (guarded by the version) would be refused: the archive shows
 * with that commit.
 */
export async function archiveEndpoints(db: Queryable, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.query(
    `UPDATE endpoints SET archived_at = now(), updated_at = now(), version = version + CASE WHEN lease_owner IS NULL THEN 1 ELSE 0 END
      WHERE id = ANY ($1::uuid[])`,
    [ids],
  );
}

export async function setUserPause(db: Queryable, id: string, pause: { reason: string; until: Date | null } | null): Promise<void> {
  await db.query(
    `UPDATE endpoints SET paused_reason = $2, paused_until = $3, paused_at = CASE WHEN $2::text IS NULL THEN NULL ELSE now() END, updated_at = now()
      WHERE id = $1`,
    [id, pause?.reason ?? null, pause?.until ?? null],
  );
}
