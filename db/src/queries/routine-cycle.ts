import type { MachineWrite, TransitionRow } from './commits.ts';
import type { RunOutcome, RunRecord } from './run-record.ts';

/**
 * A routine cycle: a machine claimed from idle, called once, finished, and planned back to idle
 * with no slot skipped. Its four steps say nothing its run does not, except when it was claimed and
 * what the plan said, so `tickwise_commit_rows` keeps it with the run (`runs.cycle_seq`, `claimed_at`,
 * `plan_reason`, `next_run_at`) instead of as a history row. `routineSteps` rebuilds the steps from
 * those; `routineClaimedAt` says whether a write is such a cycle: exactly when rebuilding gives back
 * the very steps the machine recorded, so the history reads the same either way.
 */
export interface RoutineCycle {
  runId: string;
  claimedAt: Date;
  startedAt: Date;
  finishedAt: Date;
  finishReason: string | null;
  planReason: string | null;
  nextRunAt: Date | null;
}

/** What a FINISH step says of the call it ends. Pure. */
export function finishReason(outcome: Pick<RunOutcome, 'status' | 'httpStatus' | 'errorMessage' | 'errorKind'>): string | null {
  return outcome.status === 'succeeded' ? `HTTP ${outcome.httpStatus}` : (outcome.errorMessage ?? outcome.errorKind);
}

/** The four steps of a routine cycle. Pure. */
export function routineSteps(cycle: RoutineCycle): TransitionRow[] {
  const finishedAt = cycle.finishedAt.toISOString();
  return [
    { from: 'idle', to: 'due', event: 'CLAIM', at: cycle.claimedAt.toISOString() },
    { from: 'due', to: 'running', event: 'DISPATCH', at: cycle.startedAt.toISOString() },
    { from: 'running', to: 'planning', event: 'FINISH', at: finishedAt, runId: cycle.runId, reason: cycle.finishReason },
    { from: 'planning', to: 'idle', event: 'PLANNED', at: finishedAt, reason: cycle.planReason, nextRunAt: cycle.nextRunAt?.toISOString() ?? null },
  ];
}

/**
 * When the machine was claimed, if `write` (with `run`, the one call it made) is a routine cycle;
 * null otherwise (it is then stored as a history row). The steps must be exactly what routineSteps
 * rebuilds, every field of TransitionRow compared (db/test/routine-cycle.unit.test.ts holds the two
 * together). Checked on every run, so it compares in place rather than rebuilding. Pure.
 */
export function routineClaimedAt(run: RunRecord, write: MachineWrite): Date | null {
  const steps = write.transitions;
  if (write.state !== 'idle' || steps.length !== 4 || run.endpointId !== write.id) return null;
  const [claim, dispatch, finish, planned] = steps as [TransitionRow, TransitionRow, TransitionRow, TransitionRow];
  const finishedAt = run.finishedAt.toISOString();
  const routine =
    sameStep(claim, 'idle', 'due', 'CLAIM', {}) &&
    sameStep(dispatch, 'due', 'running', 'DISPATCH', { at: run.startedAt.toISOString() }) &&
    sameStep(finish, 'running', 'planning', 'FINISH', { at: finishedAt, runId: run.id, reason: finishReason(run) }) &&
    sameStep(planned, 'planning', 'idle', 'PLANNED', { at: finishedAt, reason: write.reason, nextRunAt: write.nextRunAt?.toISOString() ?? null });
  if (!routine) return null;
  const claimedAt = new Date(claim.at);
  return !Number.isNaN(claimedAt.getTime()) && claimedAt.toISOString() === claim.at ? claimedAt : null;
}

/**
 * The step makes this move and has exactly these optional fields (TransitionRow's fields are a closed
 * set; an `at` left out is any time, the CLAIM's, which the caller reads).
 */
function sameStep(step: TransitionRow, from: TransitionRow['from'], to: TransitionRow['to'], event: string, fields: Pick<TransitionRow, 'runId' | 'reason' | 'nextRunAt'> & { at?: string }): boolean {
  return (
    step.from === from &&
    step.to === to &&
    step.event === event &&
    (fields.at === undefined || step.at === fields.at) &&
    step.runId === fields.runId &&
    step.reason === fields.reason &&
    step.nextRunAt === fields.nextRunAt &&
    step.skipped === undefined
  );
}
