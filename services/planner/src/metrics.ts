import { metric } from '@tickwise/platform';
import { Counter, Gauge, Histogram } from 'prom-client';

/**
 * The planner's Prometheus metrics, on the process's one registry (platform `metric`), labelled by
 * `planner` (its id), so several planners in one process (tests) share them. docs/operations.md
 * lists them.
 */

/** What the gauges read from a running planner when Prometheus scrapes. */
export interface PlannerGauges {
  /** The source's name: database or kafka. */
  source: string;
  /** Events waiting (consumer lag, or the database backlog); null when the source cannot tell. */
  lag(): number | null;
  /** Endpoints whose state the planner keeps. */
  endpoints(): number;
}

// Shared through globalThis so a second load of this module still reports the planners of the first.
const LIVE_KEY = Symbol.for('tickwise.planner.metrics.live-planners');
const live: Map<string, PlannerGauges> = ((globalThis as Record<symbol, unknown>)[LIVE_KEY] as Map<string, PlannerGauges> | undefined) ?? new Map();
(globalThis as Record<symbol, unknown>)[LIVE_KEY] = live;

export const plannerMetrics = {
  events: metric('tickwise_planner_events_total', (name) => new Counter({ name, help: 'Run events received: folded into an endpoint\'s state, or ignored (unknown endpoint, already seen)', labelNames: ['planner', 'result'] })),
  analyses: metric('tickwise_planner_analyses_total', (name) => new Counter({ name, help: 'Analyses written, by analyzer (heuristic, llm) and outcome (hint, clear, no_change)', labelNames: ['planner', 'analyzer', 'outcome'] })),
  analysisDuration: metric('tickwise_planner_analysis_duration_seconds', (name) => new Histogram({ name, help: 'Time one analysis took (an LLM exchange included)', labelNames: ['planner', 'analyzer'], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] })),
  fallbacks: metric('tickwise_planner_fallbacks_total', (name) => new Counter({ name, help: 'LLM analyses that fell back to the heuristic (model down, bad answer, timeout)', labelNames: ['planner'] })),
  hintChanges: metric('tickwise_planner_hint_changes_total', (name) => new Counter({ name, help: 'Hint changes written: hints set (hint) or planner hints cleared (clear)', labelNames: ['planner', 'change'] })),
  lag: metric('tickwise_planner_consumer_lag', (name) => new Gauge({
    name,
    help: 'Run events waiting: Kafka consumer lag, or the database backlog of the batch in hand (absent while the source cannot tell)',
    labelNames: ['planner', 'source'],
    collect() {
      this.reset();
      for (const [planner, gauges] of live) {
        const lag = gauges.lag();
        if (lag !== null) this.set({ planner, source: gauges.source }, lag);
      }
    },
  })),
  endpoints: metric('tickwise_planner_endpoints', (name) => new Gauge({
    name,
    help: 'Endpoints whose recent runs the planner keeps',
    labelNames: ['planner'],
    collect() {
      this.reset();
      for (const [planner, gauges] of live) this.set({ planner }, gauges.endpoints());
    },
  })),
};

/** What one planner has done since it was made: the plain figures `Planner.stats` reports. */
export interface PlannerStats {
  eventsFolded: number;
  eventsIgnored: number;
  analyses: number;
  hintChanges: number;
  fallbacks: number;
  lastEventAt: Date | null;
  lastAnalysisAt: Date | null;
}

/**
 * The metrics of one planner and its plain figures: one call per event feeds both. Counters
 * labelled with its id, gauges reported while it is tracked.
 */
export class PlannerMetrics {
  readonly stats: PlannerStats = { eventsFolded: 0, eventsIgnored: 0, analyses: 0, hintChanges: 0, fallbacks: 0, lastEventAt: null, lastAnalysisAt: null };
  private readonly folded;
  private readonly ignored;

  constructor(private readonly planner: string) {
    this.folded = plannerMetrics.events.labels(planner, 'folded');
    this.ignored = plannerMetrics.events.labels(planner, 'ignored');
  }

  track(gauges: PlannerGauges): void {
    live.set(this.planner, gauges);
  }

  untrack(): void {
    live.delete(this.planner);
  }

  event(folded: boolean): void {
    (folded ? this.folded : this.ignored).inc();
    if (folded) this.stats.eventsFolded++;
    else this.stats.eventsIgnored++;
    this.stats.lastEventAt = new Date();
  }

  fallback(): void {
    plannerMetrics.fallbacks.labels(this.planner).inc();
    this.stats.fallbacks++;
  }

  /** An analysis that was committed, and whether it changed hints (its outcome says how). */
  analysed(analyzer: string, outcome: string, durationMs: number, changedHints: boolean): void {
    plannerMetrics.analyses.labels(this.planner, analyzer, outcome).inc();
    plannerMetrics.analysisDuration.labels(this.planner, analyzer).observe(durationMs / 1_000);
    if (changedHints) plannerMetrics.hintChanges.labels(this.planner, outcome).inc();
    this.stats.analyses++;
    if (changedHints) this.stats.hintChanges++;
    this.stats.lastAnalysisAt = new Date();
  }
}
