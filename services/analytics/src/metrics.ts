import { metric } from '@tickwise/platform';
import { Counter, Gauge } from 'prom-client';
import type { ConsumerCounts } from './consumer.ts';
import type { EndpointFigures } from './figures.ts';

/**
 * The analytics consumer's Prometheus metrics, on the process's one registry (platform `metric`,
 * the one the ops server's /metrics serves). They are computed when scraped from the live
 * consumers; services/analytics/README.md lists them.
 */

/** What the metrics read from a running analytics consumer when Prometheus scrapes. */
export interface AnalyticsGauges {
  /** Every endpoint's figures, most runs first (computed at most once per scrape). */
  figures(): EndpointFigures[];
  counts: ConsumerCounts;
  windowMs: number;
  maxSeries: number;
  partitions(): number;
}

const LIVE_KEY = Symbol.for('tickwise.analytics.metrics.live');
const live: Map<string, AnalyticsGauges> = ((globalThis as Record<symbol, unknown>)[LIVE_KEY] as Map<string, AnalyticsGauges> | undefined) ?? new Map();
(globalThis as Record<symbol, unknown>)[LIVE_KEY] = live;

/** Registers a consumer with the metrics until the returned function is called. */
export function trackAnalytics(id: string, gauges: AnalyticsGauges): () => void {
  live.set(id, gauges);
  return () => live.delete(id);
}

const ENDPOINT_LABELS = ['endpoint_id', 'job_id'] as const;

/**
 * The exported endpoints: the `maxSeries` busiest of each consumer (ties by endpoint id), so the
 * series count stays bounded whatever the number of endpoints. Pure.
 */
export function exportedEndpoints(figures: EndpointFigures[], maxSeries: number): EndpointFigures[] {
  return figures.slice(0, maxSeries);
}

function eachExported(visit: (figures: EndpointFigures) => void): void {
  for (const gauges of live.values()) exportedEndpoints(gauges.figures(), gauges.maxSeries).forEach(visit);
}

function endpointGauge(name: string, help: string, value: (figures: EndpointFigures) => number) {
  return metric(name, () => new Gauge({
    name,
    help,
    labelNames: ENDPOINT_LABELS,
    collect() {
      this.reset();
      eachExported((figures) => this.set({ endpoint_id: figures.endpointId, job_id: figures.jobId }, value(figures)));
    },
  }));
}

function quantileGauge(name: string, help: string, pick: (figures: EndpointFigures) => { p50: number | null; p95: number | null }) {
  return metric(name, () => new Gauge({
    name,
    help,
    labelNames: [...ENDPOINT_LABELS, 'quantile'],
    collect() {
      this.reset();
      eachExported((figures) => {
        const labels = { endpoint_id: figures.endpointId, job_id: figures.jobId };
        const { p50, p95 } = pick(figures);
        if (p50 !== null) this.set({ ...labels, quantile: '0.5' }, p50);
        if (p95 !== null) this.set({ ...labels, quantile: '0.95' }, p95);
      });
    },
  }));
}

export const analyticsMetrics = {
  runs: endpointGauge('tickwise_analytics_endpoint_runs', 'Runs of the endpoint in the window (exported endpoints only: the busiest TICKWISE_ANALYTICS_MAX_SERIES)', (figures) => figures.runs),
  failures: endpointGauge('tickwise_analytics_endpoint_failures', 'Failed runs of the endpoint in the window', (figures) => figures.failures),
  failureRatio: endpointGauge('tickwise_analytics_endpoint_failure_ratio', 'Failed runs / runs of the endpoint in the window (0 to 1)', (figures) => figures.failureRate),
  duration: quantileGauge('tickwise_analytics_endpoint_duration_ms', 'Run duration in the window, nearest-rank p50 and p95, in ms', (figures) => figures.durationMs),
  lateness: quantileGauge('tickwise_analytics_endpoint_lateness_ms', 'Dispatch lateness (started_at − scheduled_at) in the window, nearest-rank p50 and p95, in ms', (figures) => figures.latenessMs),
  endpoints: metric('tickwise_analytics_endpoints', (name) => new Gauge({
    name,
    help: 'Endpoints with runs in the window (tracked) and how many of them have per-endpoint series (exported)',
    labelNames: ['set'],
    collect() {
      this.reset();
      let tracked = 0;
      let exported = 0;
      for (const gauges of live.values()) {
        const figures = gauges.figures();
        tracked += figures.length;
        exported += exportedEndpoints(figures, gauges.maxSeries).length;
      }
      this.set({ set: 'tracked' }, tracked);
      this.set({ set: 'exported' }, exported);
    },
  })),
  windowRuns: metric('tickwise_analytics_window_runs', (name) => new Gauge({
    name,
    help: 'Runs in the window over every tracked endpoint, exported or not, by status',
    labelNames: ['status'],
    collect() {
      this.reset();
      let runs = 0;
      let failures = 0;
      for (const gauges of live.values()) {
        for (const figures of gauges.figures()) {
          runs += figures.runs;
          failures += figures.failures;
        }
      }
      this.set({ status: 'succeeded' }, runs - failures);
      this.set({ status: 'failed' }, failures);
    },
  })),
  window: metric('tickwise_analytics_window_seconds', (name) => new Gauge({
    name,
    help: 'The time window of the figures (TICKWISE_ANALYTICS_WINDOW)',
    collect() {
      this.reset();
      for (const gauges of live.values()) this.set(gauges.windowMs / 1_000);
    },
  })),
  partitions: metric('tickwise_analytics_partitions', (name) => new Gauge({
    name,
    help: 'Partitions of the run-event topic this consumer holds',
    collect() {
      this.reset();
      let total = 0;
      for (const gauges of live.values()) total += gauges.partitions();
      this.set(total);
    },
  })),
  messages: metric('tickwise_analytics_messages_total', (name) => new Counter({
    name,
    help: 'Messages read: counted, duplicate (event already in the window), outside_window (too old), empty (tombstones, outbox updates and deletes), skipped (poison: not a run event)',
    labelNames: ['outcome'],
    collect() {
      this.reset();
      const sums = { counted: 0, duplicate: 0, outside_window: 0, empty: 0, skipped: 0 };
      for (const { counts } of live.values()) {
        sums.counted += counts.counted;
        sums.duplicate += counts.duplicate;
        sums.outside_window += counts.outsideWindow;
        sums.empty += counts.empty;
        sums.skipped += Object.values(counts.skipped).reduce((sum, value) => sum + value, 0);
      }
      for (const [outcome, value] of Object.entries(sums)) this.inc({ outcome }, value);
    },
  })),
  skipped: metric('tickwise_analytics_skipped_messages_total', (name) => new Counter({
    name,
    help: 'Poison messages skipped, by the decoder\'s code (not_json, unknown_shape, unsupported_version, invalid_event, unexpected)',
    labelNames: ['code'],
    collect() {
      this.reset();
      const sums: Record<string, number> = {};
      for (const { counts } of live.values()) {
        for (const [code, value] of Object.entries(counts.skipped)) sums[code] = (sums[code] ?? 0) + value;
      }
      for (const [code, value] of Object.entries(sums)) this.inc({ code }, value);
    },
  })),
};
