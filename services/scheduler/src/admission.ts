import type { EndpointRow, TransitionRow } from '@tickwise/db';
import { restoreSnapshot, step, type EndpointSnapshot, type UserPause } from '@tickwise/machines';
import { formatDuration } from '@tickwise/platform';

/** How a node came to hold a machine. */
export type HowHeld = 'claimed' | 'takeover';

/** A claimed or taken-over row; a takeover names the node whose lease expired. */
export type HeldRow = EndpointRow & { previousOwner?: string };

/**
 * What the node does with a machine it now holds:
 * - `dispatch`: make attempt `attempt` at `slot`, starting at `at` (never before the slot, a retry's
 *   time or the target's Retry-After), the machine `due`;
 * - `plan`: no call; the machine is in `planning` (a skipped slot, or an expired pause ending),
 *   and the next run is planned and written at once, as of `at`.
 */
export type Admission =
  | { kind: 'dispatch'; snapshot: EndpointSnapshot; slot: Date; at: Date; attempt: number; transitions: TransitionRow[] }
  | { kind: 'plan'; snapshot: EndpointSnapshot; at: Date; transitions: TransitionRow[]; skipped: SkipReason | null };

/** Why a claimed slot was not run. */
export type SkipReason = 'catch_up' | 'paused';

export interface AdmitOptions {
  /** A claimed slot later than this is missed: `catchUp: skip` drops it (TICKWISE_CATCH_UP_GRACE). */
  catchUpGraceMs: number;
}

/**
 * Decides what to do with a machine the node just claimed or took over, moving it through the
 * machine's own events: a takeover makes the next attempt at the same slot (TAKE_OVER, attempt from
 * the row), at the earliest when its previous node would have (a retry's time); a pause claimed as
 * it ends is planned (RESUME) as of its end; a claim (CLAIM, replayed on the machine so the machine,
 * not SQL, judges the move) is dispatched unless a person paused it meanwhile or the slot is missed under
 * `catchUp: skip` (SKIP) — but the first slot of a new, resumed or restored endpoint is never missed:
 * it runs however late. Nothing starts before the target's Retry-After. Throws when the machine does
 * not allow the move. Pure; executes nothing.
 */
export function admit(row: HeldRow, how: HowHeld, now: Date, options: AdmitOptions): Admission {
  if (how === 'takeover') {
    const restored = restoreSnapshot(row.snapshot, row).snapshot;
    const moved = step(restored, { type: 'TAKE_OVER', attempt: row.attempt, slot: row.claimedSlot!.toISOString() }, now);
    const reason = `lease of ${row.previousOwner ?? 'a node'} expired; attempt ${row.attempt}`;
    const at = latest(row.claimedSlot!, row.nextRunAt, moved.snapshot.context.notBefore);
    return { kind: 'dispatch', snapshot: moved.snapshot, slot: row.claimedSlot!, at, attempt: row.attempt, transitions: [{ ...moved.record, reason }] };
  }
  if (row.state === 'paused') {
    const restored = restoreSnapshot(row.snapshot, row).snapshot;
    const resumed = step(restored, { type: 'RESUME' }, now);
    // A pause is claimed up to the claim-ahead before it ends: planned as of `now` it would still be
    // in force, and the machine would pause, be claimed and pause again until it ends.
    const at = row.nextRunAt && row.nextRunAt > now ? row.nextRunAt : now;
    return { kind: 'plan', snapshot: resumed.snapshot, at, transitions: [resumed.record], skipped: null };
  }
  // The claim statement moved the row idle → due; the machine replays CLAIM from idle.
  const idle = restoreSnapshot({ ...(row.snapshot as object), value: 'idle' }, { ...row, state: 'idle' }).snapshot;
  const claimed = step(idle, { type: 'CLAIM', slot: row.claimedSlot!.toISOString() }, now);
  const slot = new Date(claimed.snapshot.context.slot!);
  const { fresh, notBefore } = claimed.snapshot.context;
  const missed = row.spec.catchUp === 'skip' && !fresh && now.getTime() - slot.getTime() > options.catchUpGraceMs;
  const skip: SkipReason | null = personsPause(row, now) ? 'paused' : missed ? 'catch_up' : null;
  if (skip) {
    const skipped = step(claimed.snapshot, { type: 'SKIP' }, now);
    const why = skip === 'paused' ? 'paused by a person' : `missed by ${formatDuration(now.getTime() - slot.getTime())}, more than the catch-up grace (catchUp: skip)`;
    return { kind: 'plan', snapshot: skipped.snapshot, at: now, transitions: [claimed.record, { ...skipped.record, reason: `slot ${slot.toISOString()} skipped: ${why}`, skipped: { count: 1, why: skip } }], skipped: skip };
  }
  return { kind: 'dispatch', snapshot: claimed.snapshot, slot, at: latest(slot, null, notBefore), attempt: 1, transitions: [claimed.record] };
}

/** The latest of a slot, a planned next run and a Retry-After. Pure. */
function latest(slot: Date, nextRunAt: Date | null, notBefore: string | null): Date {
  let at = slot.getTime();
  if (nextRunAt && nextRunAt.getTime() > at) at = nextRunAt.getTime();
  if (notBefore && Date.parse(notBefore) > at) at = Date.parse(notBefore);
  return new Date(at);
}

/** A person's pause still in force on the row at `now`, if any. Pure. */
export function personsPause(row: Pick<EndpointRow, 'pausedReason' | 'pausedUntil'>, now: Date): UserPause | null {
  if (row.pausedReason === null) return null;
  if (row.pausedUntil && row.pausedUntil <= now) return null;
  return { reason: row.pausedReason, until: row.pausedUntil };
}
