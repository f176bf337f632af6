import { randomBytes } from 'node:crypto';
import type { Logger } from '@tickwise/platform';
import type { AnalyticsConfig } from './config.ts';
import { AnalyticsConsumer, type ConsumerCounts } from './consumer.ts';
import { RollingFigures, type EndpointFigures } from './figures.ts';
import { trackAnalytics } from './metrics.ts';

/** What /figures answers: the window, the counts, and the busiest endpoints' figures. */
export interface FiguresTable {
  generatedAt: string;
  topic: string;
  group: string;
  windowMs: number;
  windowRuns: number;
  partitions: number[];
  /** Endpoints with runs in the window (the table lists at most `limit` of them). */
  endpoints: number;
  messages: ConsumerCounts;
  figures: EndpointFigures[];
}

export interface AnalyticsService {
  config: AnalyticsConfig;
  consumer: AnalyticsConsumer;
  /** Joins the group and starts reading; throws TickwiseError `unavailable` (reason `start_failed`) when the broker cannot be reached. */
  start(): Promise<void>;
  /** The table of /figures, the `limit` busiest endpoints first. */
  table(limit?: number): FiguresTable;
  /** Resolves when the consumer is in its group; rejects saying why not (for /readyz). */
  ready(): Promise<void>;
  stop(): Promise<void>;
}

export interface AnalyticsServiceOptions {
  config: AnalyticsConfig;
  log: Logger;
  now?: () => number;
}

/** Figures computed once per this long at most: a scrape reads them for every gauge. */
const SNAPSHOT_TTL_MS = 1_000;
const PRUNE_EVERY_MS = 30_000;
export const FIGURES_TABLE_DEFAULT_LIMIT = 100;

/**
 * The reference analytics consumer, not started yet: the run-event topic in its own consumer group,
 * into rolling per-endpoint figures, exported as Prometheus gauges and as a table (empty until it
 * has read something). Composition root.
 */
export function createAnalyticsService(options: AnalyticsServiceOptions): AnalyticsService {
  const { config, log } = options;
  const now = options.now ?? Date.now;
  const figures = new RollingFigures({ windowMs: config.windowMs, windowRuns: config.windowRuns });
  const consumer = new AnalyticsConsumer({ config, figures, log, now });
  let cached: { at: number; figures: EndpointFigures[] } | undefined;
  let pruner: NodeJS.Timeout | undefined;
  let untrack: (() => void) | undefined;
  const snapshot = () => {
    const at = now();
    if (!cached || at - cached.at >= SNAPSHOT_TTL_MS || at < cached.at) cached = { at, figures: figures.snapshot(at) };
    return cached.figures;
  };
  return {
    config,
    consumer,
    async start() {
      await consumer.start();
      untrack = trackAnalytics(`${config.groupId}-${randomBytes(4).toString('hex')}`, {
        figures: snapshot,
        counts: consumer.counts,
        windowMs: config.windowMs,
        maxSeries: config.maxSeries,
        partitions: () => consumer.partitions.length,
      });
      // Endpoints that went quiet give their memory back even when nobody scrapes.
      pruner = setInterval(() => figures.prune(now()), PRUNE_EVERY_MS);
      pruner.unref();
    },
    table(limit = FIGURES_TABLE_DEFAULT_LIMIT) {
      cached = undefined;
      const all = snapshot();
      return {
        generatedAt: new Date(now()).toISOString(),
        topic: config.topic,
        group: config.groupId,
        windowMs: config.windowMs,
        windowRuns: config.windowRuns,
        partitions: consumer.partitions,
        endpoints: all.length,
        messages: consumer.counts,
        figures: all.slice(0, limit),
      };
    },
    ready: () => consumer.ready(),
    async stop() {
      clearInterval(pruner);
      untrack?.();
      await consumer.stop();
    },
  };
}

/** createAnalyticsService, started. Throws TickwiseError `unavailable` (reason `start_failed`) when the broker cannot be reached. */
export async function startAnalyticsService(options: AnalyticsServiceOptions): Promise<AnalyticsService> {
  const service = createAnalyticsService(options);
  await service.start();
  return service;
}
