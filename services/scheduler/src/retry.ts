import { isRetried, MAX_HONOURED_RETRY_AFTER_MS, nextBaselineSlot, retryDelay, type EndpointSpec } from '@tickwise/machines';
import { formatDuration } from '@tickwise/platform';
import type { CallOutcome } from './dispatcher.ts';

/** The next attempt at a slot: when it starts, and the reason the history gives. */
export interface NextAttempt {
  at: Date;
  reason: string;
}

/** The time before which a Retry-After the target sent lets nothing start (capped at an hour). Pure. */
export function notBeforeOf(outcome: Pick<CallOutcome, 'retryAfterMs'>, finishedAt: Date): Date | null {
  if (outcome.retryAfterMs === null || outcome.retryAfterMs <= 0) return null;
  return new Date(finishedAt.getTime() + Math.min(outcome.retryAfterMs, MAX_HONOURED_RETRY_AFTER_MS));
}

/**
 * Whether attempt `attempt` at `slot` is followed by another within the slot, and when: only after a
 * failure the endpoint's `retry` names, while attempts are left, after the backoff (or the target's
 * Retry-After when longer), and never at or past the schedule's next slot — a retry that would run
 * into it is given up, and the slot is failed. A takeover is not a retry: it runs whatever the policy.
 * Pure; `random` in [0, 1).
 */
export function nextAttempt(spec: EndpointSpec, slot: Date, attempt: number, outcome: CallOutcome, finishedAt: Date, random: () => number): NextAttempt | null {
  const policy = spec.retry;
  if (outcome.status === 'succeeded' || outcome.errorKind === 'aborted' || !policy || attempt >= policy.attempts || !isRetried(policy, outcome)) return null;
  const retryAfter = notBeforeOf(outcome, finishedAt);
  const delay = retryDelay(policy, attempt + 1, random, retryAfter ? retryAfter.getTime() - finishedAt.getTime() : null);
  const at = new Date(finishedAt.getTime() + delay);
  if (at >= nextBaselineSlot(spec, slot)) return null;
  const failure = outcome.errorMessage ?? outcome.errorKind ?? 'failed';
  return { at, reason: `attempt ${attempt} of ${policy.attempts} failed (${failure}); attempt ${attempt + 1} in ${formatDuration(delay)}` };
}
