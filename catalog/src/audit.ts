import { insertAuditEvent, newId, type Queryable } from '@tickwise/db';
import type { ApplyChange } from './apply-jobs.ts';

/**
 * Who makes a change that the caller records in the change's own transaction: the CLI on the
 * database (`tickwise apply`, `keys`), which has no API key. (The API records its changes in the
 * gateway, with the caller's key.)
 */
export interface AuditActor {
  actorKeyId: string | null;
  /** `cli (database) as <OS user>`. */
  actor: string;
  via: 'api' | 'cli';
  /** The command: `apply`, `keys create`. */
  action: string;
}

/** Records one change of `tenantId` by `actor`, in the transaction `db` belongs to. */
export async function recordChange(db: Queryable, tenantId: string, actor: AuditActor, target: string, summary: Record<string, unknown>): Promise<void> {
  await insertAuditEvent(db, { id: newId(), tenantId, ...actor, target, summary });
}

/** `a, b, c and 4 more`. Pure. */
function namesOf(names: readonly string[]): string {
  return names.length <= 5 ? names.join(', ') : `${names.slice(0, 5).join(', ')} and ${names.length - 5} more`;
}

/** An apply as the audit trail keeps it (the API's ApplyJobs the same): the jobs, and the change list without what stayed unchanged. Pure. */
export function applyDescription(jobNames: readonly string[], changes: readonly ApplyChange[]): { target: string; summary: Record<string, unknown> } {
  return {
    target: `jobs ${namesOf(jobNames)}`,
    summary: {
      changes: changes.filter((change) => change.action !== 'unchanged').map((change) => ({ job: change.job, ...(change.endpoint ? { endpoint: change.endpoint } : {}), action: change.action, ...(change.note ? { note: change.note } : {}) })),
      unchanged: changes.filter((change) => change.action === 'unchanged').length,
    },
  };
}
