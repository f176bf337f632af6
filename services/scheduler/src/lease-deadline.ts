/**
 * A node's own, conservative view of when its lease on a machine ends, on its monotonic clock
 * (`performance.now()`, which no clock step moves).
 *
 * The database sets a lease to `now() + lease` when it runs the claim, takeover or renewal, and that
 * `now()` is later than the moment the node sent the statement. So `sent + lease`, measured on the
 * node from before the statement left, is never later than the lease in the database (clocks tick at
 * the same rate to far better than the margin below). A peer takes a machine over only once the
 * database's lease has expired; a node that dispatches only before its own deadline therefore never
 * starts a slot while a peer may be running it, however long the node was cut off from the database
 * and whatever answers it is still waiting for. A renewal that fails or never answers leaves the
 * deadline where it was.
 */

/** The deadline of a lease taken (claim, takeover) by a statement sent at `sentAt`. Pure. */
export function leaseDeadline(sentAt: number, leaseMs: number): number {
  return sentAt + leaseMs;
}

/** The deadline after a renewal sent at `sentAt` that kept the lease: never earlier than before. Pure. */
export function renewedDeadline(current: number, sentAt: number, leaseMs: number): number {
  return Math.max(current, sentAt + leaseMs);
}

/**
 * Slack kept before the deadline: a tenth of the lease. It covers the time between this check and
 * the request leaving (event-loop lag, DNS, connect) and clock-rate drift. Renewals every third of
 * the lease keep at least two thirds of it ahead while the database answers, so only a node whose
 * renewals stopped landing ever comes this close.
 */
export function dispatchMarginMs(leaseMs: number): number {
  return Math.floor(leaseMs / 10);
}

/** Whether a held slot may still be dispatched at `now`: its lease surely holds for the margin. Pure. */
export function mayDispatch(deadline: number, now: number, leaseMs: number): boolean {
  return now < deadline - dispatchMarginMs(leaseMs);
}
