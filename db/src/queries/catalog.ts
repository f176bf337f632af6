import type { EndpointSpec, MachineState, PersistedSnapshot } from '@tickwise/machines';
import type { Queryable } from '../pool.ts';
import { toEndpointRow, type EndpointRow, type RawEndpointRow } from './endpoint-row.ts';

export interface JobRow {
  id: string;
  name: string;
  synthetic: boolean;
  archivedAt: Date | null;
}

/** The job of that name, locked for the rest of the transaction. */
export async function lockJobByName(db: Queryable, name: string): Promise<JobRow | null> {
  const { rows } = await db.query<{ id: string; name: string; synthetic: boolean; archived_at: Date | null }>(
    'SELECT id, name, synthetic, archived_at FROM jobs WHERE name = $1 FOR UPDATE',
    [name],
  );
  const row = rows[0];
  return row ? { id: row.id, name: row.name, synthetic: row.synthetic, archivedAt: row.archived_at } : null;
}

export async function insertJob(db: Queryable, job: { id: string; name: string; synthetic: boolean }): Promise<void> {
  await db.query('INSERT INTO jobs (id, name, synthetic) VALUES ($1, $2, $3)', [job.id, job.name, job.synthetic]);
}

export async function updateJob(db: Queryable, id: string, changes: { synthetic: boolean }): Promise<void> {
  await db.query('UPDATE jobs SET synthetic = $2, archived_at = NULL, updated_at = now() WHERE id = $1', [id, changes.synthetic]);
}

/** Every endpoint of a job, archived ones included, locked for the rest of the transaction. */
export async function lockEndpointsOfJob(db: Queryable, jobId: string): Promise<EndpointRow[]> {
  const { rows } = await db.query<RawEndpointRow>('SELECT * FROM endpoints WHERE job_id = $1 ORDER BY name FOR UPDATE', [jobId]);
  return rows.map(toEndpointRow);
}

export async function lockEndpoint(db: Queryable, id: string): Promise<EndpointRow | null> {
  const { rows } = await db.query<RawEndpointRow>('SELECT * FROM endpoints WHERE id = $1 FOR UPDATE', [id]);
  return rows[0] ? toEndpointRow(rows[0]) : null;
}

export interface NewEndpoint {
  id: string;
  jobId: string;
  name: string;
  spec: EndpointSpec;
  bucket: number;
  state: MachineState;
  snapshot: PersistedSnapshot;
}

/** Inserts a machine in its initial state (version 1); plan it with `commitMachines`. */
export async function insertEndpoint(db: Queryable, endpoint: NewEndpoint): Promise<void> {
  await db.query(
    `INSERT INTO endpoints (id, job_id, name, spec, bucket, state, snapshot)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [endpoint.id, endpoint.jobId, endpoint.name, endpoint.spec, endpoint.bucket, endpoint.state, endpoint.snapshot],
  );
}

/** Replaces the spec; the machine itself is written separately (and only when nobody leases it). */
export async function updateEndpointSpec(db: Queryable, id: string, spec: EndpointSpec): Promise<void> {
  await db.query('UPDATE endpoints SET spec = $2, archived_at = NULL, updated_at = now() WHERE id = $1', [id, spec]);
}

export async function archiveEndpoints(db: Queryable, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.query('UPDATE endpoints SET archived_at = now(), updated_at = now() WHERE id = ANY ($1::uuid[])', [ids]);
}

export async function setUserPause(db: Queryable, id: string, pause: { reason: string; until: Date | null } | null): Promise<void> {
  await db.query(
    `UPDATE endpoints SET paused_reason = $2, paused_until = $3, paused_at = CASE WHEN $2::text IS NULL THEN NULL ELSE now() END, updated_at = now()
      WHERE id = $1`,
    [id, pause?.reason ?? null, pause?.until ?? null],
  );
}
