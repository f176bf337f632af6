/**
 * The compiled transition table `step` runs is the XState machine: for every state, every event
 * and arbitrary contexts, both give the same next state and context, and refuse the same events.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { assign, createActor, setup, type ActorScope } from 'xstate';
import { compileMachine, endpointMachine, ILLEGAL_TRANSITION, MACHINE_STATES, step, transitionOf, type EndpointContext, type EndpointEvent, type MachineState } from '@tickwise/machines';

const iso = fc.date({ min: new Date('2020-01-01T00:00:00Z'), max: new Date('2040-01-01T00:00:00Z'), noInvalidDate: true }).map((date) => date.toISOString());
const isoOrNull = fc.option(iso, { nil: null });
const context: fc.Arbitrary<EndpointContext> = fc.record({
  consecutiveFailures: fc.nat({ max: 50 }),
  lastOutcome: fc.constantFrom('succeeded', 'failed', null),
  lastSlot: isoOrNull,
  slot: isoOrNull,
  attempt: fc.nat({ max: 10 }),
  nextRunAt: isoOrNull,
  reason: fc.option(fc.string(), { nil: null }),
  source: fc.constantFrom('baseline', 'hint_faster', 'user', 'breaker', 'first_run', null),
  fresh: fc.boolean(),
  tripped: fc.boolean(),
  notBefore: isoOrNull,
}) as fc.Arbitrary<EndpointContext>;
const event: fc.Arbitrary<EndpointEvent> = fc.oneof(
  fc.record({ type: fc.constant('CLAIM'), slot: iso }),
  fc.record({ type: fc.constant('TAKE_OVER'), attempt: fc.integer({ min: 1, max: 9 }), slot: iso }),
  fc.record({ type: fc.constant('DISPATCH'), attempt: fc.integer({ min: 1, max: 9 }) }, { requiredKeys: ['type'] }),
  fc.record({ type: fc.constant('FINISH'), outcome: fc.constantFrom('succeeded', 'failed'), notBefore: isoOrNull }, { requiredKeys: ['type', 'outcome'] }),
  fc.record({ type: fc.constant('RETRY'), at: iso, reason: fc.string(), notBefore: isoOrNull }, { requiredKeys: ['type', 'at', 'reason'] }),
  fc.constant({ type: 'SKIP' as const }),
  fc.constant({ type: 'RELEASE' as const }),
  fc.record({ type: fc.constant('REPLAN'), reason: fc.string(), fresh: fc.boolean() }, { requiredKeys: ['type', 'reason'] }),
  fc.constant({ type: 'RESUME' as const }),
  fc.record({ type: fc.constant('PLANNED'), at: iso, reason: fc.string(), source: fc.constantFrom('baseline', 'hint_faster', 'first_run') }),
  fc.record({ type: fc.constant('PAUSED'), until: isoOrNull, reason: fc.string(), source: fc.constantFrom('user', 'hint_pause', 'planning_error', 'breaker') }),
) as fc.Arbitrary<EndpointEvent>;

/** XState's own answer: its interpreter's transition, with a scope that executes nothing. */
const actor = createActor(endpointMachine);
const scope = { self: actor, system: actor.system, id: '', sessionId: '', defer: () => {}, emit: () => {}, logger: () => {}, stopChild: () => {}, actionExecutor: () => {} } as unknown as ActorScope<never, never>;
function xstateNext(value: MachineState, context: EndpointContext, input: EndpointEvent): { value: MachineState; context: EndpointContext } | null {
  const before = endpointMachine.resolveState({ value, context });
  const after = endpointMachine.transition(before, input, scope as never);
  return after === before ? null : { value: after.value as MachineState, context: after.context };
}

describe('the compiled endpoint machine', () => {
  it('agrees with XState on every state, event and context', () => {
    fc.assert(
      fc.property(fc.constantFrom(...MACHINE_STATES), context, event, (value, ctx, input) => {
        expect(transitionOf(compileMachine(endpointMachine.config as never), { value, context: ctx }, input)).toEqual(xstateNext(value, ctx, input));
      }),
      { numRuns: 3_000 },
    );
  });

  it('refuses exactly the events XState refuses, with illegal_transition', () => {
    const types = ['CLAIM', 'TAKE_OVER', 'DISPATCH', 'FINISH', 'RETRY', 'SKIP', 'RELEASE', 'REPLAN', 'RESUME', 'PLANNED', 'PAUSED'] as const;
    const sample = { type: 'X', slot: '2026-01-01T00:00:00.000Z', at: '2026-01-01T00:00:00.000Z', attempt: 2, outcome: 'failed', reason: 'r', source: 'user', until: null };
    let refused = 0;
    for (const value of MACHINE_STATES) {
      for (const type of types) {
        const input = { ...sample, type } as unknown as EndpointEvent;
        const ctx = endpointMachine.config.context as EndpointContext;
        if (xstateNext(value, ctx, input) !== null) continue;
        refused += 1;
        expect(() => step({ value, context: ctx }, input, new Date())).toThrow(expect.objectContaining({ reason: ILLEGAL_TRANSITION }));
      }
    }
    expect(refused).toBeGreaterThan(30);
  });

  it('leaves the snapshot it was given untouched', () => {
    const before = { value: 'running' as const, context: { ...(endpointMachine.config.context as EndpointContext), slot: '2026-01-01T00:00:00.000Z' } };
    const copy = structuredClone(before);
    step(before, { type: 'FINISH', outcome: 'failed' }, new Date());
    expect(before).toEqual(copy);
  });

  describe('refuses to compile what a table would not honour', () => {
    const machineWith = (state: object) => setup({ types: { context: {} as { n: number } } }).createMachine({ context: { n: 0 }, initial: 'a', states: { a: state, b: {} } }).config as never;
    it.each([
      ['a guard', { on: { GO: { target: 'b', guard: () => true } } }, 'cannot compile a on GO: it declares guard'],
      ['an entry action', { entry: assign({ n: 1 }), on: { GO: { target: 'b' } } }, 'cannot compile state a: it declares entry'],
      ['a delayed transition', { after: { 1000: { target: 'b' } } }, 'cannot compile state a: it declares after'],
      ['an eventless transition', { always: { target: 'b' } }, 'cannot compile state a: it declares always'],
      ['several candidate transitions', { on: { GO: [{ target: 'b' }] } }, 'cannot compile a on GO: only one transition object is supported'],
      ['an action other than assign', { on: { GO: { target: 'b', actions: () => {} } } }, 'cannot compile a on GO: only assign actions are supported'],
    ])('%s', (_name, state, message) => {
      expect(() => compileMachine(machineWith(state))).toThrow(message);
    });
  });
});
