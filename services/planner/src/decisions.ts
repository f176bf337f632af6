import type { Analysis, HintChange, NewHint } from '@tickwise/db';
import type { Hint } from '@tickwise/machines';
import { isPlannerHint } from './analysis/bounds.ts';
import type { Decision, EndpointPicture, HintProposal } from './analysis/types.ts';

/** Hint sources the planner owns (it replaces and clears only these; a person's hints are left alone). */
export const PLANNER_SOURCES = ['planner:heuristic', 'planner:llm'] as const;

export { isPlannerHint };

/** A compact, bounded summary of what the analysis saw, stored with it. Pure. */
export function summarisePicture(picture: EndpointPicture) {
  const durations = picture.recent.map((run) => run.durationMs).sort((a, b) => a - b);
  const failures = picture.recent.filter((run) => run.status === 'failed').length;
  const last = picture.recent.at(-1);
  return {
    trigger: picture.trigger,
    baseline_interval_ms: picture.baselineIntervalMs,
    runs: picture.recent.length,
    failure_rate: picture.recent.length === 0 ? 0 : failures / picture.recent.length,
    p50_duration_ms: durations.length === 0 ? null : durations[Math.floor((durations.length - 1) / 2)],
    consecutive_failures: picture.consecutiveFailures,
    consecutive_successes: picture.consecutiveSuccesses,
    last_run: last ? { status: last.status, http_status: last.httpStatus, error_kind: last.errorKind, retry_after_ms: last.retryAfterMs, finished_at: last.finishedAt.toISOString() } : null,
    active_hints: picture.activeHints.map((hint) => ({ kind: hint.kind, interval_ms: hint.intervalMs ?? null, at: hint.at?.toISOString() ?? null, source: hint.source, expires_at: hint.expiresAt.toISOString() })),
  };
}

function hintOf(proposal: Exclude<HintProposal, { kind: 'clear' }>, base: { endpointId: string; source: string; now: Date; id: string }): NewHint {
  const common = { id: base.id, endpointId: base.endpointId, source: base.source, reason: proposal.reason };
  switch (proposal.kind) {
    case 'interval':
      return { ...common, kind: 'interval', intervalMs: proposal.intervalMs, expiresAt: new Date(base.now.getTime() + proposal.ttlMs) };
    case 'run_at':
      return { ...common, kind: 'run_at', at: proposal.at, expiresAt: new Date(Math.max(proposal.at.getTime(), base.now.getTime()) + proposal.ttlMs) };
    case 'pause_until':
      return { ...common, kind: 'pause_until', at: proposal.at, expiresAt: proposal.at };
  }
}

/**
 * Whether a hint in force already carries this proposal. An interval hint must also have at least
 * half of the proposed life ahead: otherwise a renewal of a hint about to expire would be dropped and
 * the endpoint would fall back to its baseline a moment later. Pure.
 */
function sameValue(hint: Pick<Hint, 'kind' | 'intervalMs' | 'at' | 'expiresAt'>, proposal: Exclude<HintProposal, { kind: 'clear' }>, now: Date): boolean {
  if (hint.kind !== proposal.kind) return false;
  if (proposal.kind === 'interval') return hint.intervalMs === proposal.intervalMs && hint.expiresAt.getTime() - now.getTime() >= proposal.ttlMs / 2;
  return hint.at !== undefined && Math.abs(hint.at.getTime() - proposal.at.getTime()) < 1_000;
}

export interface DecisionWrites {
  analysis: Analysis;
  /** Null when the decision leaves the hints as they are. */
  change: HintChange | null;
}

/**
 * Turns a decision into the analysis row and the hint change that carry it out. Proposals equal to
 * the planner hints already in force change nothing (a redelivered event or a repeated analysis
 * does not churn hints), unless an interval hint among them has less than half of the proposed ttl
 * left: then the proposals are written again, renewing it. A clear with no planner hint in force
 * changes nothing either. Pure.
 */
export function writesFor(decision: Decision, picture: EndpointPicture, ids: { analysisId: string; newHintId: () => string }, durationMs: number): DecisionWrites {
  const active = picture.activeHints.filter(isPlannerHint);
  const clear = decision.proposals.some((proposal) => proposal.kind === 'clear');
  const hints = decision.proposals.filter((proposal): proposal is Exclude<HintProposal, { kind: 'clear' }> => proposal.kind !== 'clear');
  const source = `planner:${decision.planner}`;
  let change: HintChange | null = null;
  let outcome: Analysis['outcome'] = 'no_change';
  let detail: string | null = decision.fallback === null ? null : `fallback to the heuristic: ${decision.fallback}`;
  if (hints.length > 0) {
    // Both ways: two proposals of one kind must not pass for a pair of hints of different kinds.
    const inForce =
      hints.length === active.length &&
      hints.every((proposal) => active.some((hint) => sameValue(hint, proposal, picture.now))) &&
      active.every((hint) => hints.some((proposal) => sameValue(hint, proposal, picture.now)));
    if (inForce) detail = [detail, 'the proposed hints are already in force'].filter(Boolean).join('; ');
    else {
      const add = hints.map((proposal) => hintOf(proposal, { endpointId: picture.endpointId, source, now: picture.now, id: ids.newHintId() }));
      change = { endpointId: picture.endpointId, add, clearSources: [...PLANNER_SOURCES], analysisId: ids.analysisId };
      outcome = 'hint';
    }
  } else if (clear) {
    if (active.length > 0) {
      change = { endpointId: picture.endpointId, add: [], clearSources: [...PLANNER_SOURCES], analysisId: ids.analysisId };
      outcome = 'clear';
    } else detail = [detail, 'no planner hint to clear'].filter(Boolean).join('; ');
  }
  return {
    change,
    analysis: {
      id: ids.analysisId,
      endpointId: picture.endpointId,
      planner: decision.planner,
      trigger: picture.trigger,
      inputs: summarisePicture(picture),
      toolCalls: decision.toolCalls,
      reasoning: decision.reasoning,
      model: decision.model,
      tokensIn: decision.tokensIn,
      tokensOut: decision.tokensOut,
      durationMs,
      outcome,
      outcomeDetail: detail,
      hintIds: change?.add.map((hint) => hint.id) ?? [],
    },
  };
}
