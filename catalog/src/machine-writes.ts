import { machineWrite, type MachineWrite, type TransitionRow } from '@tickwise/db';
import { settlePlanning, step, type EndpointEvent, type EndpointSnapshot, type PlanningInput, type UserPause } from '@tickwise/machines';

/** What planning needs, plus the machine's id and the version the write is guarded by. */
export interface ReplanInput extends PlanningInput {
  id: string;
  version: number;
  /** The endpoint's hint_version the plan accounts for; omitted: the row's stays as it is. */
  plannedHintVersion?: number;
}

/**
 * Moves a machine through `event` (if any) and planning, and returns the write that persists it.
 * Pure; executes nothing.
 */
export function planWrite(snapshot: EndpointSnapshot, event: EndpointEvent | null, input: ReplanInput, earlier: readonly TransitionRow[] = []): MachineWrite {
  const transitions: TransitionRow[] = [...earlier];
  let current = snapshot;
  if (event) {
    const moved = step(current, event, input.now);
    transitions.push(moved.record);
    current = moved.snapshot;
  }
  const settled = settlePlanning(current, input);
  transitions.push(settled.record);
  return machineWrite(input.id, input.version, settled.snapshot, transitions, input.plannedHintVersion);
}

export function userPauseOf(row: { pausedReason: string | null; pausedUntil: Date | null }): UserPause | null {
  return row.pausedReason === null ? null : { reason: row.pausedReason, until: row.pausedUntil };
}
