import { persistSnapshot, stateOf, type EndpointSnapshot, type MachineState, type PersistedSnapshot } from '@tickwise/machines';
import type { Queryable } from '../pool.ts';
import { runRow, type RunRecord } from './run-record.ts';
import { routineClaimedAt } from './routine-cycle.ts';

export interface TransitionRow {
  from: MachineState | null;
  to: MachineState;
  event: string;
  at: string;
  reason?: string | null;
  nextRunAt?: string | null;
  runId?: string | null;
  /** Slots passed over without a run at this step, and why (`catch_up`, `overlap`, `paused`). */
  skipped?: { count: number; why: string };
}

/** A machine as the machine code left it, to be written if nobody wrote it since `expectedVersion`. */
export interface MachineWrite {
  id: string;
  expectedVersion: number;
  state: MachineState;
  snapshot: PersistedSnapshot;
  nextRunAt: Date | null;
  reason: string | null;
  claimedSlot: Date | null;
  transitions: TransitionRow[];
  /** The endpoint's hint_version the plan accounted for; omitted: unchanged. */
  plannedHintVersion?: number;
  /** While due or running: the attempt at the slot (a takeover continues from it). */
  attempt?: number;
  /** Something to tell people about, stored with the write (`endpoint_notices`). */
  notice?: Notice;
}

/** A notice of what happened to an endpoint, for the planner to send to whom its job names. */
export interface Notice {
  /** UUIDv7 made by the writer. */
  id: string;
  /** 'paused': detail { by: 'person' | 'hint' | 'breaker', reason, until }. */
  kind: 'paused';
  detail: { by: 'person' | 'hint' | 'breaker'; reason: string; until: string | null };
}

/**
 * The write that persists a machine as the machine code left it: state, snapshot, next run and
 * reason all come from the snapshot, the slot while it is due or running. The one way a MachineWrite
 * is built. Pure; executes nothing.
 */
export function machineWrite(id: string, expectedVersion: number, snapshot: EndpointSnapshot, transitions: TransitionRow[], plannedHintVersion?: number): MachineWrite {
  const state = stateOf(snapshot);
  const { context } = snapshot;
  const held = state === 'due' || state === 'running';
  return {
    id,
    expectedVersion,
    state,
    snapshot: persistSnapshot(snapshot),
    nextRunAt: context.nextRunAt === null ? null : new Date(context.nextRunAt),
    reason: context.reason,
    claimedSlot: held && context.slot !== null ? new Date(context.slot) : null,
    transitions,
    ...(plannedHintVersion === undefined ? {} : { plannedHintVersion }),
    ...(held ? { attempt: context.attempt } : {}),
  };
}

/**
 * The order of a machine write's fields in the JSON array `tickwise_commit_rows` (migration 0014)
 * reads by position: every field of MachineWrite, once, then the routine cycle's two.
 */
export const MACHINE_ROW_FIELDS = [
  'id', 'expectedVersion', 'state', 'snapshot', 'nextRunAt', 'reason', 'claimedSlot', 'transitions', 'plannedHintVersion', 'attempt', 'notice',
  'routineClaimedAt', 'routineRunId',
] as const satisfies readonly (keyof MachineWrite | 'routineClaimedAt' | 'routineRunId')[];

const everyMachineField: Exclude<keyof MachineWrite, (typeof MACHINE_ROW_FIELDS)[number]> extends never ? true : never = true;
void everyMachineField;

/**
 * A machine write as `tickwise_commit_rows` reads it, in MACHINE_ROW_FIELDS order (a unit test holds
 * the two together). A routine cycle (routine-cycle.ts) goes without its steps: its run keeps it. Pure.
 */
export function machineRow(write: MachineWrite, run: RunRecord | undefined): unknown[] {
  const routine = run === undefined ? null : routineClaimedAt(run, write);
  return [
    write.id, write.expectedVersion, write.state, write.snapshot, write.nextRunAt, write.reason, write.claimedSlot,
    routine === null ? write.transitions : [], write.plannedHintVersion ?? null, write.attempt ?? null, write.notice ?? null,
    routine, routine === null ? null : (run?.id ?? null),
  ];
}

export interface Committed {
  version: number;
  /** A person's pause present on the row after the write. */
  pause: { reason: string; until: Date | null } | null;
}

/**
 * Records runs and writes machines in one statement. `worker` must hold the lease of every machine
 * (null: nobody may hold it). Returns the new version of each machine that was written; a machine
 * missing from the result was changed by someone else (version) or lost its lease.
 */
export async function commitMachines(db: Queryable, worker: string | null, runs: readonly RunRecord[], machines: readonly MachineWrite[]): Promise<Map<string, Committed>> {
  if (runs.length === 0 && machines.length === 0) return new Map();
  // A machine has at most one run in a commit: the call its write ends.
  const runOf = new Map(runs.map((run) => [run.endpointId, run]));
  const { rows } = await db.query<{ endpoint_id: string; version: number; paused_reason: string | null; paused_until: Date | null }>('SELECT * FROM tickwise_commit_rows($1, $2::jsonb, $3::jsonb)', [
    worker,
    JSON.stringify(runs.map(runRow)),
    JSON.stringify(machines.map((machine) => machineRow(machine, runOf.get(machine.id)))),
  ]);
  return new Map(
    rows.map((row) => [row.endpoint_id, { version: row.version, pause: row.paused_reason === null ? null : { reason: row.paused_reason, until: row.paused_until } }]),
  );
}
