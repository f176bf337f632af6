import { replanForHints, type ReplannedMachine } from '@tickwise/catalog';
import { activeHints, hintVersions, type Pool } from '@tickwise/db';
import type { Hint } from '@tickwise/machines';
import { isUuid, type Logger } from '@tickwise/platform';
import type { SchedulerConfig } from './config.ts';
import type { NodeMetrics } from './metrics.ts';

/** Most machines re-planned for hints in one transaction. */
const BATCH = 200;

export interface HintReplannerOptions {
  pool: Pool;
  config: Pick<SchedulerConfig, 'hintPollMs' | 'catchUpGraceMs'>;
  log: Logger;
  metrics: NodeMetrics;
  /** Marks a machine the node holds as planned with stale hints; false when the node does not hold it. */
  markHeldStale(id: string): boolean;
  /** Told of each machine re-planned (it may now be due sooner than the node planned to wake). */
  replanned(machine: ReplannedMachine): void;
  onError(message: string, error: Error): void;
}

/**
 * Re-plans free machines whose hints changed since their plan, at once: the ids a hints notification
 * names first, then, every TICKWISE_HINT_POLL, any machine with unseen hints (a missed notification,
 * a listener reconnecting, YugabyteDB without NOTIFY). A machine the node holds is left to the node:
 * it re-reads the hints before planning after its run. One worker at a time; peers doing the same
 * share the work (catalog's replanForHints locks with SKIP LOCKED).
 */
export class HintReplanner {
  private readonly pending = new Set<string>();
  private pollDue = false;
  private work: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(private readonly options: HintReplannerOptions) {}

  start(): void {
    this.timer = setInterval(() => {
      this.pollDue = true;
      this.kick();
    }, this.options.config.hintPollMs);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    await this.work;
  }

  /** A hints notification: the payload is a JSON array of endpoint ids. */
  notified(payload: string): void {
    let ids: unknown;
    try {
      ids = JSON.parse(payload);
    } catch {
      ids = undefined;
    }
    if (!Array.isArray(ids)) {
      // Not ours to judge further; the poll finds whatever the sender meant.
      this.options.log.warn('ignored a hints notification that is not a JSON array of endpoint ids', { payload: payload.slice(0, 200) });
      return;
    }
    for (const id of ids) {
      if (!isUuid(id)) continue;
      if (this.options.markHeldStale(id)) this.options.log.debug('hints changed while held; the plan after the run uses them', { endpoint: id });
      else this.pending.add(id);
    }
    this.kick();
  }

  /** A machine the node just wrote free, planned with hints that changed meanwhile: re-plan it now. */
  replanSoon(id: string): void {
    this.pending.add(id);
    this.kick();
  }

  private kick(): void {
    if (this.work || this.stopping || (this.pending.size === 0 && !this.pollDue)) return;
    this.work = this.drain().finally(() => {
      this.work = undefined;
      this.kick();
    });
  }

  private async drain(): Promise<void> {
    const { pool, config, metrics, log } = this.options;
    const onReplanned = (machine: ReplannedMachine) => {
      metrics.hintReplan(machine.changed);
      log.debug('re-planned for hints', { endpoint: machine.id, trigger: machine.trigger, state: machine.state, nextRunAt: machine.nextRunAt?.toISOString() ?? null, reason: machine.reason, changed: machine.changed });
      this.options.replanned(machine);
    };
    const options = { lateToleranceMs: config.catchUpGraceMs, onReplanned };
    while (!this.stopping) {
      if (this.pending.size > 0) {
        const ids = [...this.pending].slice(0, BATCH);
        for (const id of ids) this.pending.delete(id);
        try {
          await replanForHints(pool, { ...options, ids, limit: ids.length });
        } catch (error) {
          // Dropped, not retried: they stay pending in the database, and the poll finds them.
          this.options.onError('re-planning for hints failed', error as Error);
        }
      } else if (this.pollDue) {
        this.pollDue = false;
        try {
          // A full batch: more may be waiting.
          if ((await replanForHints(pool, { ...options, limit: BATCH })) === BATCH) this.pollDue = true;
        } catch (error) {
          this.options.onError('polling for hints failed', error as Error);
        }
      } else {
        return;
      }
    }
  }
}

/**
 * The live hints of one endpoint and the hint version they are at, the version read first: a plan
 * made with them never claims hints it did not see.
 */
export async function currentHints(pool: Pool, id: string): Promise<{ hints: Hint[]; version: number | undefined }> {
  const version = (await hintVersions(pool, [id])).get(id);
  const hints = (await activeHints(pool, [id])).get(id) ?? [];
  return { hints, version };
}
