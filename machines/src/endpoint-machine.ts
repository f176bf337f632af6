import { assign, setup } from 'xstate';
import { TickwiseError } from '@tickwise/platform/errors';
import { compileMachine, transitionOf, type PlainSnapshot } from './compiled-machine.ts';
import type { PlanSource } from './governor.ts';

export const MACHINE_STATES = ['idle', 'due', 'running', 'planning', 'paused'] as const;
export type MachineState = (typeof MACHINE_STATES)[number];
export type RunOutcome = 'succeeded' | 'failed';

/** What an endpoint machine remembers between runs. Times are ISO-8601 strings so the context is plain JSON. */
export interface EndpointContext {
  consecutiveFailures: number;
  lastOutcome: RunOutcome | null;
  /** The last slot that was run or skipped. */
  lastSlot: string | null;
  /** The slot being run while due or running. */
  slot: string | null;
  /** Attempt at the current slot: 1, then +1 for each retry and each takeover. */
  attempt: number;
  nextRunAt: string | null;
  reason: string | null;
  source: PlanSource | PauseSource | null;
  /**
   * The planned slot is the first since the endpoint was created, resumed or restored: it runs as soon
   * as a node can, however late, never skipped as missed. Cleared once a slot is run or skipped.
   */
  fresh: boolean;
  /** Paused by the breaker (`pauseAfter` consecutive failed slots); it stays paused until resumed. */
  tripped: boolean;
  /** No attempt and no slot before this time: what the last answer's Retry-After asked for. */
  notBefore: string | null;
}

export type PauseSource = 'user' | 'hint_pause' | 'planning_error' | 'breaker';

export type EndpointEvent =
  | { type: 'CLAIM'; slot: string }
  | { type: 'TAKE_OVER'; attempt: number; slot: string }
  /** The call of attempt `attempt` (default: the context's) starts. */
  | { type: 'DISPATCH'; attempt?: number }
  /** The slot's last attempt ended; `notBefore` is what its Retry-After asked for. */
  | { type: 'FINISH'; outcome: RunOutcome; notBefore?: string | null }
  /** An attempt failed and another follows at `at`, within the same slot. */
  | { type: 'RETRY'; at: string; reason: string; notBefore?: string | null }
  | { type: 'SKIP' }
  | { type: 'RELEASE' }
  /** Plan again; `fresh`: as a new endpoint (a restored one), whose first slot is never skipped. */
  | { type: 'REPLAN'; reason: string; fresh?: boolean }
  | { type: 'RESUME' }
  | { type: 'PLANNED'; at: string; reason: string; source: PlanSource }
  | { type: 'PAUSED'; until: string | null; reason: string; source: PauseSource };

export const INITIAL_CONTEXT: EndpointContext = {
  consecutiveFailures: 0,
  lastOutcome: null,
  lastSlot: null,
  slot: null,
  attempt: 0,
  nextRunAt: null,
  reason: null,
  source: null,
  fresh: true,
  tripped: false,
  notBefore: null,
};

/** A slot handed back unrun is the next run again: the machine stays planned for exactly that slot. */
const release = assign<EndpointContext, EndpointEvent, undefined, EndpointEvent, never>(({ context }) => ({ nextRunAt: context.slot ?? context.nextRunAt, slot: null }));

/** A REPLAN that restores an endpoint makes its next slot a first one. */
const replan = assign<EndpointContext, EndpointEvent, undefined, EndpointEvent, never>(({ context, event }) => ({ fresh: (event.type === 'REPLAN' && event.fresh === true) || context.fresh }));

/**
 * The endpoint actor: idle → due → running → planning → idle, plus paused.
 * Timers are not part of it (the database holds `next_run_at`); it declares no side effects, so it
 * is pure. This definition is the only one: `step` runs it compiled into a table (see
 * compiled-machine.ts; tests prove the table and XState agree), the visualizer draws it.
 */
export const endpointMachine = setup({
  types: { context: {} as EndpointContext, events: {} as EndpointEvent },
}).createMachine({
  id: 'endpoint',
  initial: 'planning',
  context: INITIAL_CONTEXT,
  states: {
    idle: {
      on: {
        CLAIM: { target: 'due', actions: assign(({ event }) => ({ slot: event.slot, attempt: 1 })) },
        REPLAN: { target: 'planning', actions: replan },
      },
    },
    due: {
      on: {
        DISPATCH: { target: 'running', actions: assign(({ context, event }) => ({ attempt: event.attempt ?? context.attempt })) },
        TAKE_OVER: { target: 'due', reenter: true, actions: assign(({ event }) => ({ attempt: event.attempt, slot: event.slot })) },
        SKIP: { target: 'planning', actions: assign(({ context }) => ({ lastSlot: context.slot, slot: null, fresh: false })) },
        RELEASE: { target: 'idle', actions: release },
      },
    },
    running: {
      on: {
        FINISH: {
          target: 'planning',
          actions: assign(({ context, event }) => ({
            lastOutcome: event.outcome,
            consecutiveFailures: event.outcome === 'succeeded' ? 0 : context.consecutiveFailures + 1,
            lastSlot: context.slot,
            slot: null,
            fresh: false,
            notBefore: event.notBefore ?? null,
          })),
        },
        RETRY: { target: 'due', actions: assign(({ event }) => ({ nextRunAt: event.at, reason: event.reason, notBefore: event.notBefore ?? null })) },
        TAKE_OVER: { target: 'due', actions: assign(({ event }) => ({ attempt: event.attempt, slot: event.slot })) },
        RELEASE: { target: 'idle', actions: release },
      },
    },
    planning: {
      on: {
        PLANNED: { target: 'idle', actions: assign(({ event }) => ({ nextRunAt: event.at, reason: event.reason, source: event.source })) },
        PAUSED: { target: 'paused', actions: assign(({ event }) => ({ nextRunAt: event.until, reason: event.reason, source: event.source, tripped: event.source === 'breaker' })) },
      },
    },
    paused: {
      on: {
        RESUME: { target: 'planning', actions: assign({ fresh: true, tripped: false }) },
        REPLAN: { target: 'planning', actions: replan },
      },
    },
  },
});

/** A machine's state and context: plain JSON-shaped data, as XState's snapshots hold them. */
export type EndpointSnapshot = PlainSnapshot;

/** The machine above, read once into a lookup table: what every `step` consults. */
const TRANSITIONS = compileMachine(endpointMachine.config as Parameters<typeof compileMachine>[0]);

/** One step of the machine as it is recorded in the transition history. */
export interface TransitionRecord {
  from: MachineState | null;
  to: MachineState;
  event: EndpointEvent['type'] | 'CREATE';
  at: string;
}

/** The `reason` of the error `step()` throws for an event the machine does not allow. */
export const ILLEGAL_TRANSITION = 'illegal_transition';

function illegalTransition(state: MachineState, eventType: EndpointEvent['type']): TickwiseError {
  return new TickwiseError('failed_precondition', `event ${eventType} is not allowed in state ${state}`, { reason: ILLEGAL_TRANSITION });
}

export function stateOf(snapshot: EndpointSnapshot): MachineState {
  return snapshot.value as MachineState;
}

/** The machine of a new endpoint, in `planning`. Pure. */
export function createEndpointSnapshot(at: Date): { snapshot: EndpointSnapshot; record: TransitionRecord } {
  const snapshot: EndpointSnapshot = { value: endpointMachine.config.initial as MachineState, context: INITIAL_CONTEXT };
  return { snapshot, record: { from: null, to: stateOf(snapshot), event: 'CREATE', at: at.toISOString() } };
}

/**
 * Applies one event; throws a `failed_precondition` TickwiseError (reason `illegal_transition`) if the machine does not allow it.
 * Pure; executes nothing (the machine declares no side effects).
 */
export function step(snapshot: EndpointSnapshot, event: EndpointEvent, at: Date): { snapshot: EndpointSnapshot; record: TransitionRecord } {
  const from = stateOf(snapshot);
  const next = transitionOf(TRANSITIONS, snapshot, event);
  if (next === null) throw illegalTransition(from, event.type);
  return { snapshot: next, record: { from, to: stateOf(next), event: event.type, at: at.toISOString() } };
}
