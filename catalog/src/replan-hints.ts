import { activeHints, commitMachines, inTransaction, lockHintPending, markHintsSeen, notifyWake, withRetry, type EndpointRow, type MachineWrite, type Pool } from '@tickwise/db';
import { isUuid, TickwiseError } from '@tickwise/platform';
import { restoreSnapshot, step, type Hint, type MachineState } from '@tickwise/machines';
import { planWrite, userPauseOf } from './machine-writes.ts';

/** The most machines one call may lock: one transaction, one statement of writes. */
export const REPLAN_MAX_LIMIT = 10_000;

export interface ReplanForHintsOptions {
  /** Only these endpoints (the ids of a hints notification); omitted: any machine with unseen hints. */
  ids?: readonly string[];
  /** Most machines re-planned by this call (1–10,000). */
  limit: number;
  /**
   * A baseline slot at most this late is kept (it runs late) rather than counted as missed: the
   * nodes' catch-up grace. Default 10 s, as TICKWISE_CATCH_UP_GRACE.
   */
  lateToleranceMs?: number;
  now?: () => Date;
  random?: () => number;
  /** Told of each machine re-planned, once the transaction committed (`changed`: false when the plan stayed as it was). */
  onReplanned?: (machine: ReplannedMachine) => void;
}

export interface ReplannedMachine {
  id: string;
  state: MachineState;
  nextRunAt: Date | null;
  reason: string | null;
  /** Why it was re-planned: the newest active hint, or "hints cleared". */
  trigger: string;
  changed: boolean;
}

/** Options a caller got wrong: `invalid_argument`, reason `invalid_options`. */
function invalidOptions(message: string): TickwiseError {
  return new TickwiseError('invalid_argument', message, { reason: 'invalid_options' });
}

function checkOptions(options: ReplanForHintsOptions): void {
  const { limit, ids, lateToleranceMs } = options;
  if (!Number.isInteger(limit) || limit < 1 || limit > REPLAN_MAX_LIMIT) {
    throw invalidOptions(`limit must be an integer between 1 and ${REPLAN_MAX_LIMIT}, got ${String(limit)}`);
  }
  if (ids !== undefined) {
    if (!Array.isArray(ids)) throw invalidOptions(`ids must be an array of endpoint ids, got ${typeof ids}`);
    const bad = ids.find((id) => typeof id !== 'string' || !isUuid(id));
    if (bad !== undefined) throw invalidOptions(`ids must be endpoint ids (UUIDs), got ${JSON.stringify(bad)}`);
  }
  if (lateToleranceMs !== undefined && (!Number.isInteger(lateToleranceMs) || lateToleranceMs < 0)) {
    throw invalidOptions(`lateToleranceMs must be a whole number of ms (0 or more), got ${String(lateToleranceMs)}`);
  }
}

/** What the history says moved the machine: the newest active hint, by who wrote it. Pure. */
export function hintTrigger(hints: readonly Hint[]): string {
  let newest: Hint | undefined;
  for (const hint of hints) if (!newest || hint.createdAt > newest.createdAt) newest = hint;
  return newest ? `hint (${newest.source}): ${newest.reason}` : 'hints cleared';
}

/**
 * The write that moves a free idle or paused machine through REPLAN and planning with its current
 * hints, recording the hint version it saw. A person's pause and the clamps still win: the governor
 * applies them. Pure; executes nothing.
 */
export function hintReplanWrite(row: EndpointRow, hints: readonly Hint[], input: { now: Date; random: () => number; lateToleranceMs: number }): { write: MachineWrite; trigger: string } {
  const trigger = hintTrigger(hints);
  const { snapshot } = restoreSnapshot(row.snapshot, row);
  const moved = step(snapshot, { type: 'REPLAN', reason: trigger }, input.now);
  const write = planWrite(
    moved.snapshot,
    null,
    { id: row.id, version: row.version, spec: row.spec, hints, userPause: userPauseOf(row), now: input.now, random: input.random, lateToleranceMs: input.lateToleranceMs, plannedHintVersion: row.hintVersion },
    [{ ...moved.record, reason: trigger }],
  );
  return { write, trigger };
}

function samePlan(write: MachineWrite, row: EndpointRow): boolean {
  return write.state === row.state && write.reason === row.reason && (write.nextRunAt?.getTime() ?? null) === (row.nextRunAt?.getTime() ?? null);
}

/**
 * Re-plans free machines (idle or paused, nobody leasing them, not archived) whose hints changed
 * since their plan, in one transaction: locks them (FOR UPDATE SKIP LOCKED, so peers doing the same
 * share the work and never re-plan a machine twice), moves each through REPLAN with the hint as the
 * reason, plans it, writes it with the hint version it saw, and wakes the nodes so they sleep to the
 * new due times. A re-plan that changes nothing only records the version (no history row); an
 * archived machine's hints are only marked seen (a restore re-plans it). Leased machines are left to
 * their node. Idempotent: a second call right after finds nothing. Returns how many it re-planned.
 */
export async function replanForHints(pool: Pool, options: ReplanForHintsOptions): Promise<number> {
  checkOptions(options);
  if (options.ids?.length === 0) return 0;
  const now = options.now ?? (() => new Date());
  const input = { random: options.random ?? Math.random, lateToleranceMs: options.lateToleranceMs ?? 10_000 };
  const replanned = await withRetry(() =>
    inTransaction(pool, async (client) => {
      const rows = await lockHintPending(client, { ...(options.ids ? { ids: options.ids } : {}), limit: options.limit });
      if (rows.length === 0) return [];
      const live = rows.filter((row) => row.archivedAt === null);
      const seen = rows.filter((row) => row.archivedAt !== null).map((row) => row.id);
      const hints = await activeHints(client, live.map((row) => row.id));
      const at = now();
      const results: ReplannedMachine[] = [];
      const writes: MachineWrite[] = [];
      for (const row of live) {
        const { write, trigger } = hintReplanWrite(row, hints.get(row.id) ?? [], { ...input, now: at });
        const changed = !samePlan(write, row);
        if (changed) writes.push(write);
        else seen.push(row.id);
        results.push({ id: row.id, state: write.state, nextRunAt: write.nextRunAt, reason: write.reason, trigger, changed });
      }
      await markHintsSeen(client, seen);
      // The rows are locked and free, so every write lands (guarded by version and "nobody leases it").
      const committed = await commitMachines(client, null, [], writes);
      if (committed.size > 0) await notifyWake(client);
      return results.filter((result) => !result.changed || committed.has(result.id));
    }),
  );
  for (const machine of replanned) options.onReplanned?.(machine);
  return replanned.length;
}
