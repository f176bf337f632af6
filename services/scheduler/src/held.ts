import type { EndpointRow, TransitionRow } from '@tickwise/db';
import type { EndpointSnapshot, Hint } from '@tickwise/machines';

/** A machine this node holds a lease on, from claim until its commit lands. */
export interface Held {
  row: EndpointRow;
  snapshot: EndpointSnapshot;
  /** The version in the database; every write is guarded by it. */
  version: number;
  /** The slot being run: it names every attempt's Idempotency-Key. */
  slot: Date;
  /** When the next attempt starts: the slot, a retry's time, or a Retry-After's. */
  at: Date;
  /** The number of the next attempt at the slot. */
  attempt: number;
  hints: Hint[];
  /** The hint_version read before `hints`: the plan after the run accounts for it. */
  hintVersion: number;
  /** Hints changed since `hints` were read (a notification): re-read them before planning. */
  hintsStale?: boolean;
  transitions: TransitionRow[];
  /** When the lease may end, by this node's reckoning (performance.now(); see lease-deadline.ts). */
  leaseDeadline: number;
  inFlight?: Promise<void>;
}
