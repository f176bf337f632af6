import { activeHints, applyHintChanges, commitMachines, inTransaction, lockTenantEndpoint, newId, notifyWake, withRetry, type EndpointView, type HintChange, type Pool, type PoolClient } from '@tickwise/db';
import type { MachineState } from '@tickwise/machines';
import { TickwiseError } from '@tickwise/platform';
import { hintReplanWrite } from './replan-hints.ts';

/** The source of hints a person writes through the API (trigger, manual hints). */
export const MANUAL_HINT_SOURCE = 'manual';
/** How long a trigger's run_at hint stays: long enough for a node busy with the endpoint to honour it. */
export const TRIGGER_HINT_TTL_MS = 60 * 60_000;
/** As the nodes' TICKWISE_CATCH_UP_GRACE default: a slot this late still runs. */
const LATE_TOLERANCE_MS = 10_000;

/** The machine's plan right after a hint change. */
export interface HintPlan {
  state: MachineState;
  nextRunAt: Date | null;
  reason: string | null;
  /** Set when a node holds the machine: the change applies when that node plans after its run. */
  note?: string;
}

/**
 * Changes the hints of an endpoint of the tenant and re-plans its machine, in one transaction under
 * the endpoint's lock: `prepare` (which may refuse by throwing) returns the change, written through
 * `applyHintChanges`; a free machine (idle or paused, nobody leasing it) is then moved through REPLAN
 * with its current hints and recorded as having seen them, so no node re-plans it again. A leased
 * machine is left to its node, which reads the hints when it plans after the run in flight.
 * Archived endpoints are `failed_precondition`.
 */
export async function changeHints(
  pool: Pool,
  tenantId: string,
  endpointId: string,
  prepare: (client: PoolClient, row: EndpointView) => Promise<HintChange>,
  options: { now?: () => Date; random?: () => number } = {},
): Promise<HintPlan> {
  const now = options.now ?? (() => new Date());
  return withRetry(() =>
    inTransaction(pool, async (client) => {
      const row = await lockTenantEndpoint(client, tenantId, endpointId);
      if (!row) throw new TickwiseError('not_found', `endpoint ${endpointId} does not exist`);
      if (row.archivedAt !== null) throw new TickwiseError('failed_precondition', `endpoint "${row.name}" is archived`);
      await applyHintChanges(client, [await prepare(client, row)]);
      const fresh = (await lockTenantEndpoint(client, tenantId, endpointId))!;
      if (fresh.leaseOwner !== null || (fresh.state !== 'idle' && fresh.state !== 'paused')) {
        return { state: fresh.state, nextRunAt: fresh.nextRunAt, reason: fresh.reason, note: `a node (${fresh.leaseOwner ?? 'unknown'}) holds the endpoint: the change applies after its run in flight` };
      }
      const hints = (await activeHints(client, [endpointId])).get(endpointId) ?? [];
      const { write } = hintReplanWrite(fresh, hints, { now: now(), random: options.random ?? Math.random, lateToleranceMs: LATE_TOLERANCE_MS });
      await commitMachines(client, null, [], [write]);
      await notifyWake(client);
      return { state: write.state, nextRunAt: write.nextRunAt, reason: write.reason };
    }),
  );
}

/**
 * Runs an endpoint of the tenant now, once, without touching its schedule: a one-shot `run_at = now`
 * hint (source "manual") written and honoured through `changeHints`. The hint is the record of the
 * request: a node that holds the machine honours it when it plans after its run in flight, and the
 * governor still applies minInterval. A person's pause wins over hints, so a paused endpoint is
 * `failed_precondition` (resume it first).
 */
export async function triggerNow(pool: Pool, tenantId: string, endpointId: string, options: { reason?: string; now?: () => Date } = {}): Promise<HintPlan & { hintId: string }> {
  const now = options.now ?? (() => new Date());
  const hintId = newId();
  const plan = await changeHints(
    pool,
    tenantId,
    endpointId,
    async (_client, row) => {
      const at = now();
      if (row.pausedReason !== null && (row.pausedUntil === null || row.pausedUntil > at)) {
        throw new TickwiseError('failed_precondition', `endpoint "${row.name}" is paused by a person (${row.pausedReason}): resume it first`);
      }
      const hint = { id: hintId, endpointId, kind: 'run_at' as const, at, reason: options.reason || 'triggered through the API', source: MANUAL_HINT_SOURCE, expiresAt: new Date(at.getTime() + TRIGGER_HINT_TTL_MS) };
      return { endpointId, add: [hint] };
    },
    { now },
  );
  return { hintId, ...plan };
}
