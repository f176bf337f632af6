import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { describe, expect, it } from 'vitest';
import { setup } from 'xstate';
import { endpointMachine, MACHINE_STATES } from '@tickwise/machines';
import { RunSchema, TransitionSchema } from '@tickwise/api';
import { timelineEntries } from '../ui/src/endpoint-parts.ts';
import { ago, countdown, formatMs, percent, stateName } from '../ui/src/format.ts';
import { graphOf, layoutChart, longestCycle, type ChartLayout } from '../ui/src/statechart-layout.ts';
import { backoffMs } from '../ui/src/stream.ts';

const boxesOverlap = (layout: ChartLayout) =>
  layout.nodes.some((a, i) => layout.nodes.some((b, j) => i < j && Math.abs(a.x - b.x) < (a.width + b.width) / 2 && Math.abs(a.y - b.y) < (a.height + b.height) / 2));

describe('the statechart drawn from the machine definition', () => {
  it('has every state and every transition of the endpoint machine, and nothing else', () => {
    const graph = graphOf(endpointMachine);
    expect(graph.initial).toBe('planning');
    expect([...graph.states].sort()).toEqual([...MACHINE_STATES].sort());
    // What the definition says, read straight from its config.
    const declared = Object.entries(endpointMachine.config.states!).flatMap(([source, node]) =>
      Object.entries((node as { on?: Record<string, unknown> }).on ?? {}).map(([event, transition]) => {
        const target = typeof transition === 'string' ? transition : (transition as { target?: string }).target ?? source;
        return `${source} -${event}-> ${target}`;
      }),
    );
    const drawn = graph.edges.flatMap((edge) => edge.events.map((event) => `${edge.source} -${event}-> ${edge.target}`));
    expect(drawn.sort()).toEqual(declared.sort());
  });

  it('lays out the main cycle on a ring, the rest beside it, with no two states overlapping', () => {
    const graph = graphOf(endpointMachine);
    expect(longestCycle(graph, 'planning')).toEqual(['planning', 'idle', 'due', 'running']);
    const layout = layoutChart(graph);
    expect(layout.nodes.filter((node) => !node.onRing).map((node) => node.id)).toEqual(['paused']);
    expect(boxesOverlap(layout)).toBe(false);
    expect(layout.edges).toHaveLength(graph.edges.length);
    for (const edge of layout.edges) expect(edge.path).toMatch(/^M-?[\d.]+,-?[\d.]+ [QC]/);
    // Labels are pushed apart: none covers another.
    const labels = layout.edges.map((edge) => edge.label);
    const clash = labels.some((a, i) => labels.some((b, j) => i < j && Math.abs(a.x - b.x) < (a.width + b.width) / 2 - 0.5 && Math.abs(a.y - b.y) < (a.height + b.height) / 2 - 0.5));
    expect(clash).toBe(false);
    // Everything inside the viewBox.
    for (const node of layout.nodes) {
      expect(node.x - node.width / 2).toBeGreaterThanOrEqual(layout.box.x);
      expect(node.y + node.height / 2).toBeLessThanOrEqual(layout.box.y + layout.box.height);
    }
    expect(layoutChart(graphOf(endpointMachine))).toEqual(layout);
  });

  it('changes with the machine: a new state and its transitions are drawn', () => {
    const grown = setup({}).createMachine({
      id: 'grown',
      initial: 'a',
      states: { a: { on: { GO: 'b', REST: 'sleeping' } }, b: { on: { BACK: 'a', DEEP: { target: 'c' } } }, c: { initial: 'inner', states: { inner: { on: { OUT: '#grown.a' } } } }, sleeping: { on: { WAKE: 'a' } } },
    });
    const graph = graphOf(grown);
    expect(graph.states).toEqual(['a', 'b', 'c', 'sleeping']);
    // A nested state's transitions belong to its top-level parent.
    expect(graph.edges).toContainEqual({ source: 'c', target: 'a', events: ['OUT'] });
    const layout = layoutChart(graph);
    expect(layout.nodes.map((node) => node.id).sort()).toEqual(['a', 'b', 'c', 'sleeping']);
    expect(boxesOverlap(layout)).toBe(false);
  });

  it('draws a machine without any cycle in depth-first order', () => {
    const line = setup({}).createMachine({ id: 'line', initial: 'one', states: { one: { on: { NEXT: 'two' } }, two: { on: { NEXT: 'three' } }, three: {} } });
    const graph = graphOf(line);
    expect(longestCycle(graph, 'one')).toEqual([]);
    const layout = layoutChart(graph);
    expect(layout.nodes.map((node) => node.id)).toEqual(['one', 'two', 'three']);
    expect(boxesOverlap(layout)).toBe(false);
  });
});

describe('the page’s words and numbers', () => {
  it('formats durations, countdowns and shares', () => {
    expect(formatMs(850)).toBe('850 ms');
    expect(formatMs(1_234)).toBe('1.2 s');
    expect(formatMs(45_000)).toBe('45 s');
    expect(formatMs(185_000)).toBe('3 min 5 s');
    expect(formatMs(7_800_000)).toBe('2 h 10 min');
    expect(formatMs(97_200_000)).toBe('1 d 3 h');
    expect(countdown(new Date(10_000), 6_000)).toBe('in 4.0 s');
    expect(countdown(new Date(10_000), 10_200)).toBe('now');
    expect(countdown(new Date(10_000), 12_000)).toBe('2.0 s late');
    expect(countdown(null, 0)).toBe('—');
    expect(ago(new Date(0), 3_000)).toBe('3.0 s ago');
    expect(percent(2, 3)).toBe('67%');
    expect(percent(0, 0)).toBe('—');
    expect(stateName(1)).toBe('idle');
    expect(stateName(5)).toBe('paused');
    expect(stateName(0)).toBe('unknown');
  });

  it('backs off reconnects from 1 s, doubling up to 30 s, with jitter', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((attempt) => backoffMs(attempt, () => 0.5))).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
    expect(backoffMs(1, () => 0)).toBe(800);
    expect(backoffMs(1, () => 1)).toBe(1_200);
  });

  it('orders the timeline newest first, keeping the steps of one write in the machine’s order', () => {
    const at = timestampFromDate(new Date(5_000));
    const step = (event: string, seq: number, when = at) => create(TransitionSchema, { event, seq: BigInt(seq), at: when });
    const transitions = [step('CLAIM', 1, timestampFromDate(new Date(4_000))), step('DISPATCH', 1, timestampFromDate(new Date(4_000))), step('FINISH', 1), step('PLANNED', 1)];
    const run = create(RunSchema, { id: 'r1', finishedAt: at });
    const order = timelineEntries(transitions, [run]).map((entry) => (entry.kind === 'run' ? 'run' : entry.step.event));
    expect(order).toEqual(['PLANNED', 'FINISH', 'run', 'DISPATCH', 'CLAIM']);
  });
});
