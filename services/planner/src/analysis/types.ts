import type { EndpointSpec, Hint } from '@tickwise/machines';

/** One finished run as the planner keeps it (folded from run events). */
export interface RecentRun {
  runId: string;
  status: 'succeeded' | 'failed';
  httpStatus: number | null;
  durationMs: number;
  latenessMs: number;
  errorKind: string | null;
  retryAfterMs: number | null;
  finishedAt: Date;
  /**
   * Whether this attempt ended its slot. False for a failed attempt that a retry followed within
   * the slot: it is kept to be seen, but a streak counts slots, as the governor does.
   */
  lastAttempt: boolean;
}

/** Why an analysis runs now. */
export type AnalysisTrigger = 'failure_streak' | 'retry_after' | 'state_change' | 'periodic';

/** Everything an analysis may look at. Plain data: an analyzer reads nothing else. */
export interface EndpointPicture {
  endpointId: string;
  jobId: string;
  spec: EndpointSpec;
  /** The baseline gap between runs: the interval, or the gap between the next two cron times. */
  baselineIntervalMs: number;
  /** Newest last, at most the planner's window (50). */
  recent: RecentRun[];
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  /** Unexpired, uncleared hints of every source (a person's manual hints included). */
  activeHints: Hint[];
  trigger: AnalysisTrigger;
  now: Date;
}

/** What an analysis proposes. Values are advisory: the governor clamps them to the endpoint's bounds. */
export type HintProposal =
  | { kind: 'interval'; intervalMs: number; ttlMs: number; reason: string }
  | { kind: 'run_at'; at: Date; ttlMs: number; reason: string }
  | { kind: 'pause_until'; at: Date; reason: string }
  /** Clears the planner's own active hints: back to the baseline. */
  | { kind: 'clear'; reason: string };

/** A tool call of the model, as recorded in the analysis (rejected ones included, with why). */
export interface ToolCallRecord {
  name: string;
  arguments: unknown;
  accepted: boolean;
  error?: string;
}

export interface Decision {
  planner: 'heuristic' | 'llm';
  /** Empty: leave the schedule as it is. */
  proposals: HintProposal[];
  /** Why, in words a person reads in the history. */
  reasoning: string;
  toolCalls: ToolCallRecord[];
  model: string | null;
  tokensIn: number | null;
  tokensOut: number | null;
  /** Set when an LLM analysis fell back to the heuristic: the reason (timeout, HTTP 500, bad tool call...). */
  fallback: string | null;
}

export interface Analyzer {
  /** 'heuristic' | 'llm' */
  readonly name: string;
  /** Never rejects: a failing analyzer returns a safe decision (the heuristic's) with `fallback` set. */
  analyze(picture: EndpointPicture, signal?: AbortSignal): Promise<Decision>;
}
