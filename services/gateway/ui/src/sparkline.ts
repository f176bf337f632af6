import { s } from './dom.ts';

export interface SparkPoint {
  durationMs: number;
  failed: boolean;
}

/** Durations as a small line, failures as red dots; the tooltip says the range. */
export function sparkline(points: readonly SparkPoint[], width = 120, height = 26): SVGSVGElement {
  const svg = s('svg', { class: 'spark', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img' });
  if (points.length === 0) return svg;
  const max = Math.max(...points.map((point) => point.durationMs), 1);
  const step = points.length > 1 ? (width - 6) / (points.length - 1) : 0;
  const at = (index: number, point: SparkPoint) => ({ x: 3 + index * step, y: height - 3 - ((height - 6) * point.durationMs) / max });
  const coords = points.map((point, index) => at(index, point));
  svg.setAttribute('aria-label', `latency of the last ${points.length} runs, up to ${Math.round(max)} ms`);
  svg.appendChild(s('title', {}, `last ${points.length} runs: ${Math.round(Math.min(...points.map((p) => p.durationMs)))}–${Math.round(max)} ms`));
  if (coords.length > 1) svg.appendChild(s('polyline', { class: 'spark-line', points: coords.map((c) => `${c.x.toFixed(1)},${c.y.toFixed(1)}`).join(' ') }));
  points.forEach((point, index) => {
    if (point.failed || index === points.length - 1) svg.appendChild(s('circle', { class: point.failed ? 'spark-fail' : 'spark-last', cx: coords[index]!.x, cy: coords[index]!.y, r: 2.5 }));
  });
  return svg;
}
