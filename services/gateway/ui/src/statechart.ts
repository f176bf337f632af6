import { s } from './dom.ts';
import type { ChartLayout } from './statechart-layout.ts';

export interface ChartStep {
  from: string | null;
  to: string;
  event: string;
}

const STEP_MS = 420;
/** More steps than this waiting to be drawn: skip to the end rather than lag behind. */
const MAX_QUEUED_STEPS = 16;

const reducedMotion = () => window.matchMedia?.('(prefers-reduced-motion: reduce)').matches === true;

/** The statechart as SVG: the current state highlighted, each transition run as a token along its edge. */
export class Statechart {
  readonly element: SVGSVGElement;
  private readonly nodes = new Map<string, SVGGElement>();
  private readonly edges = new Map<string, { group: SVGGElement; path: SVGPathElement }>();
  private readonly token: SVGCircleElement;
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;
  private lastEdge: SVGGElement | undefined;

  constructor(layout: ChartLayout, initial: string) {
    const { box } = layout;
    const arrow = (id: string) =>
      s('marker', { id, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, s('path', { d: 'M0,0 L10,5 L0,10 z' }));
    this.token = s('circle', { class: 'token', r: 7, cx: 0, cy: 0, visibility: 'hidden' });
    const initialNode = layout.nodes.find((node) => node.id === initial);
    this.element = s(
      'svg',
      { class: 'chart', viewBox: `${box.x} ${box.y} ${box.width} ${box.height}`, role: 'img', 'aria-label': 'Statechart of the endpoint machine', 'data-current': '' },
      s('defs', {}, arrow('arrow'), arrow('arrow-active')),
      layout.edges.map((edge) => {
        const path = s('path', { class: 'edge-line', d: edge.path, 'marker-end': 'url(#arrow)' });
        const { label } = edge;
        const group = s(
          'g',
          { class: 'edge', 'data-edge': edge.id },
          path,
          s('rect', { class: 'edge-label-box', x: label.x - label.width / 2, y: label.y - label.height / 2, width: label.width, height: label.height, rx: 4 }),
          s('text', { class: 'edge-label', x: label.x, y: label.y + 4, 'text-anchor': 'middle' }, label.text),
        );
        this.edges.set(edge.id, { group, path });
        return group;
      }),
      initialNode && s('circle', { class: 'initial-dot', cx: initialNode.x - initialNode.width / 2 - 22, cy: initialNode.y, r: 5 }),
      initialNode && s('path', { class: 'edge-line', d: `M${initialNode.x - initialNode.width / 2 - 17},${initialNode.y} H${initialNode.x - initialNode.width / 2}`, 'marker-end': 'url(#arrow)' }),
      layout.nodes.map((node) => {
        const group = s(
          'g',
          { class: `node state-${node.id}`, 'data-state': node.id, transform: `translate(${node.x},${node.y})` },
          s('rect', { x: -node.width / 2, y: -node.height / 2, width: node.width, height: node.height, rx: 12 }),
          s('text', { y: 5, 'text-anchor': 'middle' }, node.id),
        );
        this.nodes.set(node.id, group);
        return group;
      }),
      this.token,
    );
  }

  /** Shows `state` as the current one, at once. */
  highlight(state: string): void {
    for (const [id, group] of this.nodes) group.classList.toggle('current', id === state);
    this.element.dataset.current = state;
  }

  /** Runs the steps one after another (after any still being drawn), ending on the last one's state. */
  animate(steps: readonly ChartStep[]): Promise<void> {
    this.queued += steps.length;
    this.queue = this.queue.then(async () => {
      for (const step of steps) {
        this.queued--;
        if (this.queued > MAX_QUEUED_STEPS || reducedMotion() || step.from === null) {
          this.highlight(step.to);
          continue;
        }
        await this.run(step);
      }
    });
    return this.queue;
  }

  private async run(step: ChartStep): Promise<void> {
    const edge = this.edges.get(`${step.from}->${step.to}`);
    if (!edge) return this.highlight(step.to);
    this.lastEdge?.classList.remove('last');
    edge.group.classList.add('active');
    edge.path.setAttribute('marker-end', 'url(#arrow-active)');
    const total = edge.path.getTotalLength();
    this.token.setAttribute('visibility', 'visible');
    const started = performance.now();
    await new Promise<void>((resolve) => {
      const frame = (now: number) => {
        const t = Math.min(1, (now - started) / STEP_MS);
        // Ease in and out, so the token leaves and arrives gently.
        const eased = t < 0.5 ? 2 * t * t : 1 - (-2 * t + 2) ** 2 / 2;
        const point = edge.path.getPointAtLength(eased * total);
        this.token.setAttribute('cx', String(point.x));
        this.token.setAttribute('cy', String(point.y));
        if (t < 1) requestAnimationFrame(frame);
        else resolve();
      };
      requestAnimationFrame(frame);
    });
    this.token.setAttribute('visibility', 'hidden');
    edge.group.classList.remove('active');
    edge.group.classList.add('last');
    edge.path.setAttribute('marker-end', 'url(#arrow)');
    this.lastEdge = edge.group;
    this.highlight(step.to);
    const done = Number(this.element.dataset.animated ?? '0') + 1;
    this.element.dataset.animated = String(done);
  }
}
