import { activeHints, applyHintChanges, inTransaction, insertAnalyses, newId, plannerEndpoints, pruneNotifications, prunePlanner, withRetry, type Pool } from '@tickwise/db';
import type { RunEvent } from '@tickwise/events';
import type { Logger } from '@tickwise/platform';
import { baselineIntervalMs } from './analysis/baseline.ts';
import type { Analyzer, AnalysisTrigger, EndpointPicture } from './analysis/types.ts';
import type { PlannerConfig } from './config.ts';
import { writesFor, type DecisionWrites } from './decisions.ts';
import { PlannerMetrics, type PlannerStats } from './metrics.ts';
import { dueTrigger, foldRun, markAnalysed, recentRunOf, stateFromEndpoint, type EndpointState } from './endpoint-state.ts';
import type { RunEventBatch, RunEventSource } from './sources/types.ts';

export interface PlannerOptions {
  pool: Pool;
  source: RunEventSource;
  analyzer: Analyzer;
  config: PlannerConfig;
  log: Logger;
  /** Whether this planner prunes old run events and analyses (one pruner is enough). */
  prune?: boolean;
  /**
   * Told of every batch before the analyses (notifications are due within seconds; an LLM analysis
   * may take longer), and before the batch is acknowledged: the notifier (`Notifier.handleEvents`).
   */
  notifications?: { handleEvents(events: readonly RunEvent[]): Promise<void> };
}

/**
 * The planner: folds run events into per-endpoint state, analyses endpoints when due (debounced,
 * sooner when something urgent happened), and commits each batch's analyses and hint changes in one
 * transaction before the source acknowledges the batch.
 */
export class Planner {
  private readonly states = new Map<string, EndpointState>();
  /** Endpoints that no longer exist: their events are ignored. */
  private readonly missing = new Set<string>();
  /** Analyses run one round at a time (batches and the periodic tick share it). */
  private round: Promise<void> = Promise.resolve();
  private tick: NodeJS.Timeout | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<(events: readonly RunEvent[]) => void>();
  private readonly metrics: PlannerMetrics;
  private state: 'new' | 'running' | 'stopped' = 'new';

  constructor(private readonly options: PlannerOptions) {
    this.metrics = new PlannerMetrics(options.config.plannerId);
  }

  /** Events folded, analyses and hint changes written, and when: what `tickwise dev` prints. */
  get stats(): Readonly<PlannerStats> {
    return this.metrics.stats;
  }

  /** Started, not stopped, and its source still delivering: what the readiness probe asks. */
  get running(): boolean {
    return this.state === 'running' && this.options.source.isRunning();
  }

  async start(): Promise<void> {
    const { source } = this.options;
    await source.start((batch) => this.handleBatch(batch));
    this.state = 'running';
    this.metrics.track({ source: source.name, lag: () => source.lag(), endpoints: () => this.states.size });
    // Endpoints whose minimum interval had not passed when their events came are analysed later.
    this.tick = setInterval(() => void this.analyseDue().catch((error) => this.options.log.error('periodic analysis failed', { error: (error as Error).message })), 1_000);
    if (this.options.prune) {
      this.pruneTimer = setInterval(() => void this.pruneOnce(), 10 * 60_000);
      this.pruneTimer.unref();
    }
  }

  async stop(): Promise<void> {
    this.state = 'stopped';
    this.metrics.untrack();
    clearInterval(this.tick);
    clearInterval(this.pruneTimer);
    await this.options.source.stop();
    await this.round;
  }

  /** Called with every batch after it is folded in (tests and benchmarks observe delivery). */
  onEvents(listener: (events: readonly RunEvent[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async handleBatch(batch: RunEventBatch): Promise<void> {
    for (const listener of this.listeners) listener(batch.events);
    await this.fold(batch.events);
    await this.options.notifications?.handleEvents(batch.events);
    await this.analyseDue();
  }

  private async fold(events: readonly RunEvent[]): Promise<void> {
    const { config } = this.options;
    const unknown = [...new Set(events.map((event) => event.endpoint_id))].filter((id) => !this.states.has(id) && !this.missing.has(id));
    if (unknown.length > 0) {
      const found = await plannerEndpoints(this.options.pool, unknown, config.window);
      for (const id of unknown) {
        const endpoint = found.get(id);
        if (endpoint) this.states.set(id, stateFromEndpoint(endpoint, config));
        else this.missing.add(id);
      }
    }
    for (const event of events) {
      const state = this.states.get(event.endpoint_id);
      if (!state) {
        this.metrics.event(false);
        continue;
      }
      const next = foldRun(state, recentRunOf(event), config);
      this.metrics.event(next !== state);
      this.states.set(event.endpoint_id, next);
    }
  }

  /** Analyses every endpoint that is due, then commits all analyses and hint changes together. */
  analyseDue(): Promise<void> {
    const next = this.round.then(() => this.analyseRound());
    this.round = next.catch(() => undefined);
    return next;
  }

  private async analyseRound(): Promise<void> {
    const { config, pool } = this.options;
    const now = Date.now();
    const due: [EndpointState, AnalysisTrigger][] = [];
    for (const state of this.states.values()) {
      const trigger = dueTrigger(state, now, config);
      if (trigger) due.push([state, trigger]);
    }
    if (due.length === 0) return;
    const ids = due.map(([state]) => state.id);
    // Specs change (apply, API): each analysis reads the current one.
    const current = await plannerEndpoints(pool, ids, 0);
    for (const [index, [state]] of due.entries()) {
      const endpoint = current.get(state.id);
      const refreshed = { ...state, spec: endpoint?.spec ?? state.spec, archived: endpoint ? endpoint.archived : true };
      this.states.set(state.id, refreshed);
      due[index]![0] = refreshed;
    }
    const live = due.filter(([state]) => !state.archived);
    const hints = await activeHints(pool, live.map(([state]) => state.id));
    const writes: DecisionWrites[] = [];
    const queue = [...live];
    const work = async () => {
      for (let item = queue.shift(); item; item = queue.shift()) {
        const [state, trigger] = item;
        const picture = this.pictureOf(state, trigger, hints.get(state.id) ?? [], new Date(now));
        const started = performance.now();
        const decision = await this.options.analyzer.analyze(picture);
        if (decision.fallback !== null) this.metrics.fallback();
        writes.push(writesFor(decision, picture, { analysisId: newId(), newHintId: newId }, performance.now() - started));
      }
    };
    await Promise.all(Array.from({ length: Math.min(config.concurrency, live.length) }, work));
    const changes = writes.flatMap((write) => (write.change ? [write.change] : []));
    await withRetry(() =>
      inTransaction(pool, async (client) => {
        await insertAnalyses(client, writes.map((write) => write.analysis));
        await applyHintChanges(client, changes);
      }),
    );
    for (const [state] of due) {
      const current = this.states.get(state.id);
      if (current) this.states.set(state.id, markAnalysed(current, now));
    }
    for (const write of writes) {
      this.metrics.analysed(write.analysis.planner, write.analysis.outcome, write.analysis.durationMs, write.change !== null);
      if (write.change) this.options.log.info('hint change', { endpoint: write.analysis.endpointId, outcome: write.analysis.outcome, reason: write.analysis.reasoning });
    }
  }

  private pictureOf(state: EndpointState, trigger: AnalysisTrigger, hints: EndpointPicture['activeHints'], now: Date): EndpointPicture {
    return {
      endpointId: state.id,
      jobId: state.jobId,
      spec: state.spec,
      baselineIntervalMs: baselineIntervalMs(state.spec, now),
      recent: state.recent,
      consecutiveFailures: state.consecutiveFailures,
      consecutiveSuccesses: state.consecutiveSuccesses,
      activeHints: hints,
      trigger,
      now,
    };
  }

  private async pruneOnce(): Promise<void> {
    const before = new Date(Date.now() - this.options.config.eventRetentionMs);
    try {
      for (;;) {
        const deleted = await prunePlanner(this.options.pool, before, 5_000);
        if (deleted.events + deleted.analyses < 5_000) break;
      }
      while ((await pruneNotifications(this.options.pool, before, 5_000)) > 0);
    } catch (error) {
      this.options.log.warn('pruning run events failed', { error: (error as Error).message });
    }
  }
}
