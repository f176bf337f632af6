import type { EndpointRow, TransitionRow } from '@tickwise/db';
import { restoreSnapshot, step, type EndpointSnapshot, type UserPause } from '@tickwise/machines';

/** How a node came to hold a machine. */
export type HowHeld = 'claimed' | 'takeover';

/** A claimed or taken-over row; a takeover names the node whose lease expired. */
export type HeldRow = EndpointRow & { previousOwner?: string };

/**
 * What the node does with a machine it now holds:
 * - `dispatch`: call the target at `slot` (never before), the machine `due`;
 * - `plan`: no call; the machine is in `planning` (a skipped slot, or an expired pause ending),
 *   and the next run is planned and written at once.
 */
export type Admission =
  | { kind: 'dispatch'; snapshot: EndpointSnapshot; slot: Date; transitions: TransitionRow[] }
  | { kind: 'plan'; snapshot: EndpointSnapshot; transitions: TransitionRow[]; skipped: boolean };

export interface AdmitOptions {
  /** A claimed slot later than this is missed: `catchUp: skip` drops it (TICKWISE_CATCH_UP_GRACE). */
  catchUpGraceMs: number;
}

/**
 * Decides what to do with a machine the node just claimed or took over, moving it through the
 * machine's own events: a takeover runs the same slot again (TAKE_OVER, attempt from the row); an
 * expired pause that was claimed is planned (RESUME); a claim (CLAIM, replayed on the machine so the
 * machine, not SQL, judges the move) is dispatched unless a person paused it meanwhile or the slot
 * is missed under `catchUp: skip` (SKIP). Throws when the machine does not allow the move.
 * Pure; executes nothing.
 */
export function admit(row: HeldRow, how: HowHeld, now: Date, options: AdmitOptions): Admission {
  if (how === 'takeover') {
    const restored = restoreSnapshot(row.snapshot, row).snapshot;
    const moved = step(restored, { type: 'TAKE_OVER', attempt: row.attempt, slot: row.claimedSlot!.toISOString() }, now);
    const reason = `lease of ${row.previousOwner ?? 'a node'} expired; attempt ${row.attempt}`;
    return { kind: 'dispatch', snapshot: moved.snapshot, slot: row.claimedSlot!, transitions: [{ ...moved.record, reason }] };
  }
  if (row.state === 'paused') {
    const restored = restoreSnapshot(row.snapshot, row).snapshot;
    const resumed = step(restored, { type: 'RESUME' }, now);
    return { kind: 'plan', snapshot: resumed.snapshot, transitions: [resumed.record], skipped: false };
  }
  // The claim statement moved the row idle → due; the machine replays CLAIM from idle.
  const idle = restoreSnapshot({ ...(row.snapshot as object), value: 'idle' }, { ...row, state: 'idle' }).snapshot;
  const claimed = step(idle, { type: 'CLAIM', slot: row.claimedSlot!.toISOString() }, now);
  const slot = new Date(claimed.snapshot.context.slot!);
  const missed = row.spec.catchUp === 'skip' && now.getTime() - slot.getTime() > options.catchUpGraceMs;
  if (personsPause(row, now) || missed) {
    const skipped = step(claimed.snapshot, { type: 'SKIP' }, now);
    return { kind: 'plan', snapshot: skipped.snapshot, transitions: [claimed.record, skipped.record], skipped: true };
  }
  return { kind: 'dispatch', snapshot: claimed.snapshot, slot, transitions: [claimed.record] };
}

/** A person's pause still in force on the row at `now`, if any. Pure. */
export function personsPause(row: Pick<EndpointRow, 'pausedReason' | 'pausedUntil'>, now: Date): UserPause | null {
  if (row.pausedReason === null) return null;
  if (row.pausedUntil && row.pausedUntil <= now) return null;
  return { reason: row.pausedReason, until: row.pausedUntil };
}
