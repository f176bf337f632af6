import { z } from 'zod';
import { INITIAL_CONTEXT, MACHINE_STATES, type EndpointContext, type EndpointSnapshot, type MachineState } from './endpoint-machine.ts';

/** Bump when the persisted shape changes; `restoreSnapshot` migrates or rebuilds older ones. */
export const SNAPSHOT_SCHEMA_VERSION = 1;

export interface PersistedSnapshot {
  schemaVersion: typeof SNAPSHOT_SCHEMA_VERSION;
  value: MachineState;
  context: EndpointContext;
}

const isoOrNull = z.string().refine((text) => !Number.isNaN(Date.parse(text)), 'is not a time').nullable();
const persistedSchema = z.object({
  schemaVersion: z.literal(SNAPSHOT_SCHEMA_VERSION),
  value: z.enum(MACHINE_STATES),
  context: z.object({
    consecutiveFailures: z.number().int().min(0),
    lastOutcome: z.enum(['succeeded', 'failed']).nullable(),
    lastSlot: isoOrNull,
    slot: isoOrNull,
    attempt: z.number().int().min(0),
    nextRunAt: isoOrNull,
    reason: z.string().nullable(),
    source: z.string().nullable(),
    // Added after the first release, within schema version 1: a snapshot written before reads as the
    // machine then was (not fresh, not tripped, no Retry-After in force).
    fresh: z.boolean().default(false),
    tripped: z.boolean().default(false),
    notBefore: isoOrNull.default(null),
  }),
});

/** The JSON stored in `endpoints.snapshot`. Pure. */
export function persistSnapshot(snapshot: EndpointSnapshot): PersistedSnapshot {
  return { schemaVersion: SNAPSHOT_SCHEMA_VERSION, value: snapshot.value as MachineState, context: snapshot.context };
}

/** What the row itself says, used to rebuild a snapshot that cannot be read. */
export interface RowFacts {
  state: MachineState;
  nextRunAt: Date | null;
}

/**
 * Restores a machine from its stored JSON. A snapshot of another schema version or a damaged one is
 * rebuilt from the row's own columns (state, next run) instead of failing: an old row never crashes a node.
 * Pure. `rebuilt` tells the caller to record why.
 */
export function restoreSnapshot(stored: unknown, row: RowFacts): { snapshot: EndpointSnapshot; rebuilt: boolean } {
  const parsed = persistedSchema.safeParse(stored);
  if (parsed.success && parsed.data.value === row.state) {
    const context = parsed.data.context as EndpointContext;
    return { snapshot: { value: parsed.data.value, context }, rebuilt: false };
  }
  const context: EndpointContext = { ...INITIAL_CONTEXT, nextRunAt: row.nextRunAt?.toISOString() ?? null, reason: 'machine rebuilt from an unreadable snapshot' };
  return { snapshot: { value: row.state, context }, rebuilt: true };
}
