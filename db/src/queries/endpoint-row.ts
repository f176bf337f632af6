import type { EndpointSpec, MachineState } from '@tickwise/machines';

/** One row of `endpoints`: the machine of one endpoint. */
export interface EndpointRow {
  id: string;
  /** Whose endpoint it is: its tenant's signing secrets sign its calls when it has none of its own. */
  tenantId: string;
  jobId: string;
  name: string;
  spec: EndpointSpec;
  bucket: number;
  state: MachineState;
  snapshot: unknown;
  nextRunAt: Date | null;
  reason: string | null;
  claimedSlot: Date | null;
  attempt: number;
  leaseOwner: string | null;
  leaseExpiresAt: Date | null;
  pausedReason: string | null;
  pausedUntil: Date | null;
  version: number;
  /** Bumped by every hint write or clear; the plan accounted for `plannedHintVersion`. */
  hintVersion: number;
  plannedHintVersion: number;
  archivedAt: Date | null;
}

export interface RawEndpointRow {
  id: string;
  tenant_id: string;
  job_id: string;
  name: string;
  spec: EndpointSpec;
  bucket: number;
  state: MachineState;
  snapshot: unknown;
  next_run_at: Date | null;
  reason: string | null;
  claimed_slot: Date | null;
  attempt: number;
  lease_owner: string | null;
  lease_expires_at: Date | null;
  paused_reason: string | null;
  paused_until: Date | null;
  version: number;
  hint_version: number;
  planned_hint_version: number;
  archived_at: Date | null;
}

/**
 * The columns of RawEndpointRow, for the hot reads (claims) to select no more than they use: every
 * timestamp and JSON column left out is one the node does not parse.
 */
export const ENDPOINT_ROW_COLUMNS = 'id, tenant_id, job_id, name, spec, bucket, state, snapshot, next_run_at, reason, claimed_slot, attempt, lease_owner, lease_expires_at, paused_reason, paused_until, version, hint_version, planned_hint_version, archived_at';

export function toEndpointRow(raw: RawEndpointRow): EndpointRow {
  return {
    id: raw.id,
    tenantId: raw.tenant_id,
    jobId: raw.job_id,
    name: raw.name,
    spec: raw.spec,
    bucket: raw.bucket,
    state: raw.state,
    snapshot: raw.snapshot,
    nextRunAt: raw.next_run_at,
    reason: raw.reason,
    claimedSlot: raw.claimed_slot,
    attempt: raw.attempt,
    leaseOwner: raw.lease_owner,
    leaseExpiresAt: raw.lease_expires_at,
    pausedReason: raw.paused_reason,
    pausedUntil: raw.paused_until,
    version: raw.version,
    hintVersion: raw.hint_version,
    plannedHintVersion: raw.planned_hint_version,
    archivedAt: raw.archived_at,
  };
}

/** Buckets spread claimers over the due index; the application picks one per endpoint. */
export const BUCKET_COUNT = 16;

export function bucketOf(id: string): number {
  // The last hex digits of a UUIDv7 are random: a fair, stable spread.
  return Number.parseInt(id.slice(-4), 16) % BUCKET_COUNT;
}
