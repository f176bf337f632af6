import { toDirectedGraph, type DirectedGraphNode } from '@xstate/graph';
import type { AnyStateMachine } from 'xstate';

// The statechart's drawing, computed from the machine definition itself: the states and
// transitions come from XState's graph helpers, so a change to the machine changes the picture.
// No DOM here: everything is plain geometry, so it is tested without a browser.

export interface ChartGraph {
  initial: string;
  /** Top-level states, in definition order. */
  states: string[];
  /** One edge per source and target; `events` lists every event that takes it. */
  edges: { source: string; target: string; events: string[] }[];
}

const localId = (node: DirectedGraphNode, rootId: string) => node.id.slice(rootId.length + 1);

/** The machine's top-level states and transitions (nested states are folded into their parent). Pure. */
export function graphOf(machine: AnyStateMachine): ChartGraph {
  const root = toDirectedGraph(machine);
  const states = root.children.map((child) => localId(child, root.id));
  const topOf = (id: string) => id.slice(root.id.length + 1).split('.')[0]!;
  const merged = new Map<string, { source: string; target: string; events: string[] }>();
  const visit = (node: DirectedGraphNode) => {
    for (const edge of node.edges) {
      const source = topOf(edge.source.id);
      const target = topOf(edge.target.id);
      const key = `${source}\u0000${target}`;
      const entry = merged.get(key) ?? { source, target, events: [] };
      if (!entry.events.includes(edge.label.text)) entry.events.push(edge.label.text);
      merged.set(key, entry);
    }
    node.children.forEach(visit);
  };
  root.children.forEach(visit);
  const initial = String(machine.root.initial?.target[0]?.key ?? states[0] ?? '');
  return { initial, states, edges: [...merged.values()] };
}

export interface Point {
  x: number;
  y: number;
}

export interface LaidNode {
  id: string;
  x: number;
  y: number;
  width: number;
  height: number;
  /** On the main cycle (drawn round the ring) or off it. */
  onRing: boolean;
}

export interface LaidEdge {
  id: string;
  source: string;
  target: string;
  events: string[];
  /** An SVG path, ending where the arrow points. */
  path: string;
  label: Point & { width: number; height: number; text: string };
}

export interface ChartLayout {
  nodes: LaidNode[];
  edges: LaidEdge[];
  /** The box that holds everything: the SVG viewBox. */
  box: { x: number; y: number; width: number; height: number };
}

const NODE = { width: 112, height: 40 };
const RING = { rx: 230, ry: 145 };
/** How far a state off the main cycle sits from the ring states it is linked to. */
const SATELLITE_GAP = 130;
const LABEL = { charWidth: 6.6, height: 16, pad: 8 };

/** The longest cycle through `start` (brute force: statecharts are small), or [] if there is none. Pure. */
export function longestCycle(graph: ChartGraph, start: string, maxStates = 14): string[] {
  if (graph.states.length > maxStates) return [];
  const next = new Map<string, string[]>();
  for (const edge of graph.edges) if (edge.source !== edge.target) next.set(edge.source, [...(next.get(edge.source) ?? []), edge.target]);
  let best: string[] = [];
  const walk = (path: string[]) => {
    for (const target of next.get(path.at(-1)!) ?? []) {
      if (target === start && path.length > best.length) best = [...path];
      else if (!path.includes(target)) walk([...path, target]);
    }
  };
  walk([start]);
  return best.length >= 2 ? best : [];
}

const rotate = (v: Point, angle: number): Point => ({ x: v.x * Math.cos(angle) - v.y * Math.sin(angle), y: v.x * Math.sin(angle) + v.y * Math.cos(angle) });
const length = (v: Point) => Math.hypot(v.x, v.y) || 1;
const unit = (v: Point): Point => ({ x: v.x / length(v), y: v.y / length(v) });
const fmt = (n: number) => Math.round(n * 10) / 10;

/** Where a ray from the node's centre towards `toward` leaves its box. */
function boundary(node: LaidNode, toward: Point): Point {
  const d = { x: toward.x - node.x, y: toward.y - node.y };
  const t = Math.min(node.width / 2 / (Math.abs(d.x) || 1e-9), node.height / 2 / (Math.abs(d.y) || 1e-9));
  return { x: node.x + d.x * t, y: node.y + d.y * t };
}

/**
 * Lays the chart out: the longest cycle through the initial state round an ellipse, clockwise from
 * the top; every other state just outside the ring, beside the ring states it is linked to. Edges
 * are curves that bend to their left, so a transition and its reverse never overlap; self-
 * transitions are loops on the outside. Labels that would overlap are pushed apart. Pure.
 */
export function layoutChart(graph: ChartGraph): ChartLayout {
  const cycle = longestCycle(graph, graph.initial);
  const ring = cycle.length > 0 ? cycle : orderFrom(graph);
  const nodes = new Map<string, LaidNode>();
  ring.forEach((id, index) => {
    const angle = -Math.PI / 2 + (2 * Math.PI * index) / ring.length;
    nodes.set(id, { id, x: RING.rx * Math.cos(angle), y: RING.ry * Math.sin(angle), ...NODE, onRing: true });
  });
  const outward = new Map<string, number>();
  for (const id of graph.states.filter((state) => !nodes.has(state))) {
    const linked = graph.edges.flatMap((edge) => (edge.source === id ? [edge.target] : edge.target === id ? [edge.source] : [])).filter((other) => nodes.get(other)?.onRing);
    const anchor = linked.length === 0 ? { x: 0, y: 0 } : linked.reduce((acc, other) => ({ x: acc.x + nodes.get(other)!.x / linked.length, y: acc.y + nodes.get(other)!.y / linked.length }), { x: 0, y: 0 });
    // Away from the centre, past the ring states it is linked to; several such states fan out.
    const direction = length(anchor) < 1 ? { x: 0, y: 1 } : unit(anchor);
    const key = `${Math.round(direction.x * 10)},${Math.round(direction.y * 10)}`;
    const step = outward.get(key) ?? 0;
    outward.set(key, step + 1);
    const reach = (length(anchor) < 1 ? 0 : SATELLITE_GAP) + SATELLITE_GAP * step;
    nodes.set(id, { id, x: anchor.x + direction.x * reach, y: anchor.y + direction.y * reach, ...NODE, onRing: false });
  }
  const edges = graph.edges.map((edge) => drawEdge(edge, nodes.get(edge.source)!, nodes.get(edge.target)!));
  separateLabels(edges.map((edge) => edge.label));
  return { nodes: [...nodes.values()], edges, box: boxOf([...nodes.values()], edges) };
}

/** States in depth-first order from the initial one, then any it cannot reach. Pure. */
function orderFrom(graph: ChartGraph): string[] {
  const order: string[] = [];
  const visit = (id: string) => {
    if (order.includes(id) || !graph.states.includes(id)) return;
    order.push(id);
    for (const edge of graph.edges) if (edge.source === id) visit(edge.target);
  };
  visit(graph.initial);
  for (const state of graph.states) visit(state);
  return order;
}

function labelOf(events: string[], at: Point) {
  const text = events.join(' / ');
  return { text, x: at.x, y: at.y, width: text.length * LABEL.charWidth + LABEL.pad, height: LABEL.height };
}

function drawEdge(edge: ChartGraph['edges'][number], source: LaidNode, target: LaidNode): LaidEdge {
  const id = `${edge.source}->${edge.target}`;
  if (source === target) {
    // A loop on the side facing away from the centre.
    const out = length(source) < 1 ? { x: 0, y: 1 } : unit(source);
    const r0 = Math.min(source.width, source.height) / 2;
    const at = (angle: number, r: number) => {
      const v = rotate(out, angle);
      return { x: source.x + v.x * r, y: source.y + v.y * r };
    };
    const start = boundary(source, at(-0.55, 100));
    const end = boundary(source, at(0.55, 100));
    const c1 = at(-0.7, r0 + 75);
    const c2 = at(0.7, r0 + 75);
    const labelAt = at(0, r0 + 70);
    return { id, ...edge, path: `M${fmt(start.x)},${fmt(start.y)} C${fmt(c1.x)},${fmt(c1.y)} ${fmt(c2.x)},${fmt(c2.y)} ${fmt(end.x)},${fmt(end.y)}`, label: labelOf(edge.events, { x: labelAt.x + out.x * 10, y: labelAt.y + out.y * 10 }) };
  }
  const d = { x: target.x - source.x, y: target.y - source.y };
  // Bend to the left of the direction of travel (screen coordinates: y grows downwards).
  const normal = unit({ x: d.y, y: -d.x });
  const bend = 0.2 * length(d);
  const control = { x: (source.x + target.x) / 2 + normal.x * bend, y: (source.y + target.y) / 2 + normal.y * bend };
  const start = boundary(source, control);
  const end = boundary(target, control);
  const middle = { x: 0.25 * start.x + 0.5 * control.x + 0.25 * end.x, y: 0.25 * start.y + 0.5 * control.y + 0.25 * end.y };
  return { id, ...edge, path: `M${fmt(start.x)},${fmt(start.y)} Q${fmt(control.x)},${fmt(control.y)} ${fmt(end.x)},${fmt(end.y)}`, label: labelOf(edge.events, middle) };
}

const overlap = (a: LaidEdge['label'], b: LaidEdge['label']) => Math.abs(a.x - b.x) < (a.width + b.width) / 2 && Math.abs(a.y - b.y) < (a.height + b.height) / 2;

/** Pushes overlapping labels apart vertically, a few rounds at most. Mutates the labels given. */
function separateLabels(labels: LaidEdge['label'][]): void {
  for (let round = 0; round < 20; round++) {
    let moved = false;
    for (let i = 0; i < labels.length; i++) {
      for (let j = i + 1; j < labels.length; j++) {
        const a = labels[i]!;
        const b = labels[j]!;
        if (!overlap(a, b)) continue;
        const push = ((a.height + b.height) / 2 - Math.abs(a.y - b.y)) / 2 + 1;
        const sign = a.y <= b.y ? 1 : -1;
        a.y -= sign * push;
        b.y += sign * push;
        moved = true;
      }
    }
    if (!moved) return;
  }
}

function boxOf(nodes: LaidNode[], edges: LaidEdge[]): ChartLayout['box'] {
  const xs: number[] = [];
  const ys: number[] = [];
  for (const node of nodes) xs.push(node.x - node.width / 2, node.x + node.width / 2), ys.push(node.y - node.height / 2, node.y + node.height / 2);
  for (const { label } of edges) xs.push(label.x - label.width / 2, label.x + label.width / 2), ys.push(label.y - label.height / 2, label.y + label.height / 2);
  for (const edge of edges) {
    for (const match of edge.path.matchAll(/(-?[\d.]+),(-?[\d.]+)/g)) xs.push(Number(match[1])), ys.push(Number(match[2]));
  }
  const margin = 16;
  const x = Math.min(...xs) - margin;
  const y = Math.min(...ys) - margin;
  return { x: fmt(x), y: fmt(y), width: fmt(Math.max(...xs) + margin - x), height: fmt(Math.max(...ys) + margin - y) };
}
