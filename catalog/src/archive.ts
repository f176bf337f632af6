import { archiveEndpoints, archiveJob as archiveJobRow, inTransaction, lockEndpointsOfJob, lockJob, lockTenantEndpoint, notifyWake, withRetry, type Pool } from '@tickwise/db';
import { TickwiseError } from '@tickwise/platform';
import { setPauseIn } from './pause.ts';

/**
 * Archives a job of the tenant and every endpoint of it, in one transaction. Archived machines are
 * never claimed again; a run in flight finishes and is recorded. Archiving twice changes nothing.
 * Returns how many endpoints this call archived.
 */
export async function archiveJob(pool: Pool, tenantId: string, jobId: string): Promise<number> {
  return withRetry(() =>
    inTransaction(pool, async (client) => {
      const job = await lockJob(client, tenantId, jobId);
      if (!job) throw new TickwiseError('not_found', `job ${jobId} does not exist`);
      const live = (await lockEndpointsOfJob(client, jobId)).filter((row) => row.archivedAt === null);
      await archiveEndpoints(client, live.map((row) => row.id));
      if (job.archivedAt === null) await archiveJobRow(client, jobId);
      return live.length;
    }),
  );
}

/** Archives one endpoint of the tenant; false when it already was. Creating it again restores it. */
export async function archiveEndpoint(pool: Pool, tenantId: string, endpointId: string): Promise<boolean> {
  return withRetry(() =>
    inTransaction(pool, async (client) => {
      const row = await lockTenantEndpoint(client, tenantId, endpointId);
      if (!row) throw new TickwiseError('not_found', `endpoint ${endpointId} does not exist`);
      if (row.archivedAt !== null) return false;
      await archiveEndpoints(client, [endpointId]);
      return true;
    }),
  );
}

/**
 * Sets (or with null clears) a person's pause on every live endpoint of a job of the tenant, all in
 * one transaction: every endpoint changes, or none does. Returns the endpoint ids.
 */
export async function setJobPause(pool: Pool, tenantId: string, jobId: string, pause: { reason: string; until: Date | null } | null, now = new Date()): Promise<string[]> {
  return withRetry(() =>
    inTransaction(pool, async (client) => {
      const job = await lockJob(client, tenantId, jobId);
      if (!job) throw new TickwiseError('not_found', `job ${jobId} does not exist`);
      if (job.archivedAt !== null) throw new TickwiseError('failed_precondition', `job "${job.name}" is archived`);
      const ids = (await lockEndpointsOfJob(client, jobId)).filter((row) => row.archivedAt === null).map((row) => row.id);
      for (const id of ids) await setPauseIn(client, id, pause, now);
      await notifyWake(client);
      return ids;
    }),
  );
}
