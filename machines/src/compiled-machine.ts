import type { EndpointContext, EndpointEvent, MachineState } from './endpoint-machine.ts';

/** A machine as the hot path holds it: plain data, the same shape XState's snapshots have. */
export interface PlainSnapshot {
  value: MachineState;
  context: EndpointContext;
}

type EventType = EndpointEvent['type'];
type Assignment = (args: { context: EndpointContext; event: EndpointEvent }) => Partial<EndpointContext>;

interface CompiledTransition {
  target: MachineState;
  assignments: Assignment[];
}

/** state → event type → what the machine does: its definition read once, as a lookup table. */
export type TransitionTable = Record<MachineState, Partial<Record<EventType, CompiledTransition>>>;

/** What `compileMachine` reads: the part of an XState machine config the endpoint machine uses. */
interface MachineConfig {
  states?: Record<string, { on?: Record<string, unknown> } & Record<string, unknown>>;
}

/** Keys of a state the table holds; anything else (entry, exit, after, always, guards) it cannot. */
const COMPILABLE_STATE_KEYS = new Set(['on']);
const COMPILABLE_TRANSITION_KEYS = new Set(['target', 'actions', 'reenter']);

/**
 * Compiles a machine of targets and `assign` actions into a transition table. It refuses (throws)
 * anything the table would not honour the way XState does (guards, entry or exit actions, delayed or
 * eventless transitions, actions other than `assign`), so the XState machine stays the single
 * definition. Pure.
 */
export function compileMachine(config: MachineConfig): TransitionTable {
  const table: Partial<TransitionTable> = {};
  for (const [state, node] of Object.entries(config.states ?? {})) {
    const extra = Object.keys(node).filter((key) => !COMPILABLE_STATE_KEYS.has(key));
    if (extra.length > 0) throw new Error(`cannot compile state ${state}: it declares ${extra.join(', ')}`);
    const transitions: Partial<Record<EventType, CompiledTransition>> = {};
    for (const [eventType, definition] of Object.entries(node.on ?? {})) {
      transitions[eventType as EventType] = compileTransition(`${state} on ${eventType}`, definition);
    }
    table[state as MachineState] = transitions;
  }
  return table as TransitionTable;
}

function compileTransition(where: string, definition: unknown): CompiledTransition {
  if (typeof definition !== 'object' || definition === null || Array.isArray(definition)) throw new Error(`cannot compile ${where}: only one transition object is supported`);
  const extra = Object.keys(definition).filter((key) => !COMPILABLE_TRANSITION_KEYS.has(key));
  if (extra.length > 0) throw new Error(`cannot compile ${where}: it declares ${extra.join(', ')}`);
  const { target, actions } = definition as { target?: unknown; actions?: unknown };
  if (typeof target !== 'string') throw new Error(`cannot compile ${where}: its target must be a sibling state's name`);
  const list = actions === undefined ? [] : Array.isArray(actions) ? actions : [actions];
  return { target: target as MachineState, assignments: list.map((action) => assignmentOf(where, action)) };
}

/** The function or object an XState `assign(...)` action was made from, as one function. */
function assignmentOf(where: string, action: unknown): Assignment {
  const { type, assignment } = (action ?? {}) as { type?: unknown; assignment?: unknown };
  if (type !== 'xstate.assign') throw new Error(`cannot compile ${where}: only assign actions are supported`);
  if (typeof assignment === 'function') return assignment as Assignment;
  const properties = Object.entries(assignment as Record<string, unknown>);
  return (args) => Object.fromEntries(properties.map(([key, value]) => [key, typeof value === 'function' ? value(args) : value])) as Partial<EndpointContext>;
}

/**
 * The machine's next snapshot for `event`, or null if the machine does not allow it in its state.
 * Assignments apply in order, each seeing the context the previous one left, as XState's do.
 * Pure; executes nothing.
 */
export function transitionOf(table: TransitionTable, snapshot: PlainSnapshot, event: EndpointEvent): PlainSnapshot | null {
  const transition = table[snapshot.value]?.[event.type];
  if (!transition) return null;
  let context = snapshot.context;
  for (const assignment of transition.assignments) context = { ...context, ...assignment({ context, event }) };
  return { value: transition.target, context };
}
