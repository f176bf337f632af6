import type { EndpointRow, RunRecord } from '@tickwise/db';
import type { CallOutcome } from './dispatcher.ts';

/** Who made a call, for which slot, and when: the part of a run the node knows before the outcome. */
export interface CallMade {
  runId: string;
  slot: Date;
  attempt: number;
  /** No other attempt at the slot follows (no retry left, or none wanted). */
  lastAttempt: boolean;
  worker: string;
  startedAt: Date;
  finishedAt: Date;
  /** What planned the slot (the machine's plan source). */
  plannedSource: string | null;
}

/** The run to record: the call as made, and what it came to. Pure. */
export function runRecord(row: Pick<EndpointRow, 'id' | 'jobId'>, call: CallMade, outcome: CallOutcome): RunRecord {
  return {
    id: call.runId,
    endpointId: row.id,
    jobId: row.jobId,
    slot: call.slot,
    attempt: call.attempt,
    lastAttempt: call.lastAttempt,
    worker: call.worker,
    startedAt: call.startedAt,
    finishedAt: call.finishedAt,
    plannedSource: call.plannedSource,
    ...outcome,
  };
}
