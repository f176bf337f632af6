import type { RunEvent } from '@tickwise/events';
import { TickwiseError } from '@tickwise/platform/errors';
import { nearestRank } from './quantile.ts';

export interface FiguresOptions {
  /** Runs count while `finished_at` is at most this far behind now. */
  windowMs: number;
  /** At most this many runs (the latest by `finished_at`) are kept per endpoint. */
  windowRuns: number;
}

export interface Percentiles {
  p50: number | null;
  p95: number | null;
}

/** One endpoint's figures over the window (what /figures lists and the gauges export). */
export interface EndpointFigures {
  endpointId: string;
  jobId: string;
  runs: number;
  failures: number;
  /** failures / runs, from 0 to 1. */
  failureRate: number;
  durationMs: Percentiles;
  latenessMs: Percentiles;
  lastFinishedAt: string;
}

/**
 * What happened to an event offered to the figures: counted, a repeat of one already in the window
 * (delivery is at least once: Debezium and a re-read after a rebalance both repeat), or too old.
 */
export type AddOutcome = 'counted' | 'duplicate' | 'outside_window';

interface Sample {
  eventId: string;
  finishedAt: number;
  durationMs: number;
  latenessMs: number;
  failed: boolean;
}

interface EndpointWindow {
  endpointId: string;
  jobId: string;
  /** The Kafka partition the endpoint's events come from (its key's), so a rebalance can drop it. */
  partition: number | null;
  /** Sorted by finishedAt, oldest first: events arrive mostly in order, so inserting is mostly an append. */
  samples: Sample[];
  ids: Set<string>;
}

/**
 * Per-endpoint rolling figures over a time window bounded by a count: a run counts while its
 * `finished_at` is within `windowMs` of now, and only the latest `windowRuns` runs of an endpoint
 * are kept. The window follows event time (`finished_at`), not arrival, so a re-read of the topic
 * after a restart rebuilds the same figures. Pure logic: no I/O and no clock (callers pass `now`).
 */
export class RollingFigures {
  private readonly endpoints = new Map<string, EndpointWindow>();

  constructor(readonly options: FiguresOptions) {
    if (!Number.isInteger(options.windowMs) || options.windowMs < 1_000) throw new TickwiseError('invalid_argument', `windowMs must be a whole number of ms, at least 1000, got ${options.windowMs}`);
    if (!Number.isInteger(options.windowRuns) || options.windowRuns < 1) throw new TickwiseError('invalid_argument', `windowRuns must be a positive integer, got ${options.windowRuns}`);
  }

  /** Endpoints with at least one run kept. */
  get size(): number {
    return this.endpoints.size;
  }

  add(event: RunEvent, now: number, partition: number | null = null): AddOutcome {
    const finishedAt = Date.parse(event.finished_at);
    if (finishedAt < now - this.options.windowMs) return 'outside_window';
    let window = this.endpoints.get(event.endpoint_id);
    if (!window) {
      window = { endpointId: event.endpoint_id, jobId: event.job_id, partition, samples: [], ids: new Set() };
      this.endpoints.set(event.endpoint_id, window);
    }
    if (window.ids.has(event.event_id)) return 'duplicate';
    const { samples } = window;
    if (samples.length >= this.options.windowRuns && finishedAt < samples[0]!.finishedAt) return 'outside_window';
    const sample: Sample = { eventId: event.event_id, finishedAt, durationMs: event.duration_ms, latenessMs: Math.max(0, event.lateness_ms), failed: event.status === 'failed' };
    let at = samples.length;
    while (at > 0 && samples[at - 1]!.finishedAt > finishedAt) at -= 1;
    if (at === samples.length) samples.push(sample);
    else samples.splice(at, 0, sample);
    window.ids.add(sample.eventId);
    window.jobId = event.job_id;
    if (partition !== null) window.partition = partition;
    this.trim(window, now);
    return 'counted';
  }

  /** Forgets the endpoints of partitions this consumer no longer owns (their new owner rebuilds them). Returns how many. */
  dropPartitions(partitions: Iterable<number>): number {
    const doomed = new Set(partitions);
    let dropped = 0;
    for (const [id, window] of this.endpoints) {
      if (window.partition !== null && doomed.has(window.partition)) {
        this.endpoints.delete(id);
        dropped += 1;
      }
    }
    return dropped;
  }

  /** Drops runs that left the window, and endpoints left with none. */
  prune(now: number): void {
    for (const [id, window] of this.endpoints) {
      this.trim(window, now);
      if (window.samples.length === 0) this.endpoints.delete(id);
    }
  }

  /** Every endpoint with runs in the window, most runs first (then by endpoint id). Prunes first. */
  snapshot(now: number): EndpointFigures[] {
    this.prune(now);
    const figures = [...this.endpoints.values()].map(summarize);
    return figures.sort((a, b) => b.runs - a.runs || (a.endpointId < b.endpointId ? -1 : a.endpointId > b.endpointId ? 1 : 0));
  }

  private trim(window: EndpointWindow, now: number): void {
    const cutoff = now - this.options.windowMs;
    const { samples } = window;
    let drop = Math.max(0, samples.length - this.options.windowRuns);
    while (drop < samples.length && samples[drop]!.finishedAt < cutoff) drop += 1;
    if (drop === 0) return;
    for (const sample of samples.splice(0, drop)) window.ids.delete(sample.eventId);
  }
}

function percentiles(values: Float64Array): Percentiles {
  values.sort();
  return { p50: nearestRank(values, 0.5), p95: nearestRank(values, 0.95) };
}

function summarize(window: EndpointWindow): EndpointFigures {
  const { samples } = window;
  const durations = new Float64Array(samples.length);
  const lateness = new Float64Array(samples.length);
  let failures = 0;
  samples.forEach((sample, index) => {
    durations[index] = sample.durationMs;
    lateness[index] = sample.latenessMs;
    if (sample.failed) failures += 1;
  });
  return {
    endpointId: window.endpointId,
    jobId: window.jobId,
    runs: samples.length,
    failures,
    failureRate: samples.length === 0 ? 0 : failures / samples.length,
    durationMs: percentiles(durations),
    latenessMs: percentiles(lateness),
    lastFinishedAt: new Date(samples[samples.length - 1]!.finishedAt).toISOString(),
  };
}
