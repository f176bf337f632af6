import { step, type EndpointSnapshot, type TransitionRecord } from './endpoint-machine.ts';
import type { EndpointSpec } from './endpoint-spec.ts';
import { planNextRun, type Hint, type Plan, type Skipped, type UserPause } from './governor.ts';

export interface PlanningInput {
  spec: EndpointSpec;
  now: Date;
  hints: readonly Hint[];
  userPause?: UserPause | null;
  previousRunStartedAt?: Date | null;
  /** The outcome of the slot just finished, when planning right after a run (the breaker judges it). */
  justFinished?: 'succeeded' | 'failed' | null;
  lateToleranceMs?: number;
  random: () => number;
}

export interface Settled {
  snapshot: EndpointSnapshot;
  record: TransitionRecord & { reason: string; nextRunAt: string | null; skipped?: Skipped };
  plan: Plan;
}

/**
 * Runs the governor for a machine in `planning` and leaves it `idle` (next run chosen) or `paused`.
 * A governor that cannot plan (a stored spec it cannot read) pauses the machine with the reason,
 * instead of leaving it stuck in planning. Pure; executes nothing.
 */
export function settlePlanning(snapshot: EndpointSnapshot, input: PlanningInput): Settled {
  let plan: Plan;
  try {
    plan = governorPlan(snapshot, input);
  } catch (error) {
    plan = { kind: 'pause', until: null, reason: `planning failed, paused until the endpoint is fixed: ${(error as Error).message}`, source: 'planning_error' };
  }
  const event =
    plan.kind === 'run'
      ? ({ type: 'PLANNED', at: plan.at.toISOString(), reason: plan.reason, source: plan.source } as const)
      : ({ type: 'PAUSED', until: plan.until?.toISOString() ?? null, reason: plan.reason, source: plan.source } as const);
  const next = step(snapshot, event, input.now);
  const skipped = plan.kind === 'run' && plan.skipped ? { skipped: plan.skipped } : {};
  return { snapshot: next.snapshot, plan, record: { ...next.record, reason: plan.reason, nextRunAt: next.snapshot.context.nextRunAt, ...skipped } };
}

function governorPlan(snapshot: EndpointSnapshot, input: PlanningInput): Plan {
  const { context } = snapshot;
  return planNextRun({
    spec: input.spec,
    now: input.now,
    previousSlot: context.lastSlot ? new Date(context.lastSlot) : null,
    previousRunStartedAt: input.previousRunStartedAt ?? null,
    lateToleranceMs: input.lateToleranceMs ?? 0,
    consecutiveFailures: context.consecutiveFailures,
    hints: input.hints,
    userPause: input.userPause ?? null,
    justFinished: input.justFinished ?? null,
    tripped: context.tripped,
    notBefore: context.notBefore ? new Date(context.notBefore) : null,
    random: input.random,
  });
}
