import { inTransaction, insertNotification, newId, notifyBaselines, notifyEndpoints, notifyNewDeliveries, withRetry, type NewNotification, type Pool } from '@tickwise/db';
import type { RunEvent } from '@tickwise/events';
import type { Logger } from '@tickwise/platform';
import { notifyMetrics } from './metrics.ts';
import { contentOf, notificationRow } from './notification-rows.ts';
import { foldNotify, needsTargets, stateFromBaseline, type DueNotice, type NotifyState } from './streaks.ts';

export interface TrackerOptions {
  pool: Pool;
  publicUrl: string | null;
  log: Logger;
  /** Called after notifications with deliveries committed: wakes the sender in this process. */
  onDeliveries?: () => void;
  /** A job's targets are read again when older than this when a notice may be due (an apply changes them). */
  targetsTtlMs?: number;
  now?: () => number;
}

/**
 * Turns run events into "failing" and "recovered" notifications, on whichever path the events came
 * (the outbox table or Kafka). Per endpoint it keeps the failure streak in failed slots; its state
 * starts from the database (`notifyBaselines`), so a restart or a redelivered batch tells nothing
 * twice. A batch's notifications commit together before `handleEvents` resolves, i.e. before the
 * source acknowledges the batch; the state moves on only once they did.
 */
export class NotifyTracker {
  private readonly states = new Map<string, NotifyState>();
  /** Endpoints that do not exist: their events are ignored. */
  private readonly missing = new Set<string>();
  private readonly now: () => number;
  private readonly ttlMs: number;

  constructor(private readonly options: TrackerOptions) {
    this.now = options.now ?? Date.now;
    this.ttlMs = options.targetsTtlMs ?? 5_000;
  }

  /** Endpoints whose streaks are kept. */
  get size(): number {
    return this.states.size;
  }

  async handleEvents(events: readonly RunEvent[]): Promise<void> {
    const { pool } = this.options;
    const next = new Map<string, NotifyState>();
    const due: DueNotice[] = [];
    const unknown = [...new Set(events.map((event) => event.endpoint_id))].filter((id) => !this.states.has(id) && !this.missing.has(id));
    if (unknown.length > 0) {
      const baselines = await notifyBaselines(pool, unknown);
      for (const id of unknown) {
        const baseline = baselines.get(id);
        if (!baseline) {
          this.missing.add(id);
          continue;
        }
        const rebuilt = stateFromBaseline(baseline, this.now());
        next.set(id, rebuilt.state);
        due.push(...rebuilt.due);
      }
    }
    const current = (id: string) => next.get(id) ?? this.states.get(id);
    // A job's targets change with an apply: read them again before a notice may be made from them.
    const stale = [...new Set(events.filter((event) => {
      const state = current(event.endpoint_id);
      return state !== undefined && this.now() - state.readAt > this.ttlMs && needsTargets(state, event);
    }).map((event) => event.endpoint_id))];
    if (stale.length > 0) {
      const fresh = await notifyEndpoints(pool, stale);
      for (const id of stale) {
        const endpoint = fresh.get(id);
        if (endpoint) next.set(id, { ...current(id)!, endpoint, readAt: this.now() });
      }
    }
    for (const event of events) {
      const state = current(event.endpoint_id);
      if (!state) continue;
      const folded = foldNotify(state, event);
      if (folded.state !== state) next.set(event.endpoint_id, folded.state);
      due.push(...folded.due);
    }
    await this.write(due.flatMap((notice) => {
      const row = notificationRow(contentOf(notice), current(notice.endpointId)!.endpoint, this.options.publicUrl, newId, new Date(this.now()));
      return row ? [row] : [];
    }));
    for (const [id, state] of next) this.states.set(id, state);
  }

  private async write(rows: readonly NewNotification[]): Promise<void> {
    if (rows.length === 0) return;
    const made = await writeNotifications(this.options.pool, rows, this.options.log);
    if (made.some(([, deliveries]) => deliveries > 0)) this.options.onDeliveries?.();
  }
}

/**
 * Writes notifications with their deliveries in one transaction and wakes the senders of every
 * planner at commit. Returns the rows that were new, with how many deliveries each made (a row
 * already there was made earlier, with its deliveries: it is left out).
 */
export async function writeNotifications(pool: Pool, rows: readonly NewNotification[], log: Logger): Promise<[NewNotification, number][]> {
  const made = await withRetry(() =>
    inTransaction(pool, async (client) => {
      const made: [NewNotification, number][] = [];
      for (const row of rows) {
        const deliveries = await insertNotification(client, row);
        if (deliveries !== null) made.push([row, deliveries]);
      }
      if (made.some(([, deliveries]) => deliveries > 0)) await notifyNewDeliveries(client);
      return made;
    }),
  );
  for (const [row, deliveries] of made) {
    notifyMetrics.created.labels(row.kind).inc();
    log.info('notification made', { kind: row.kind, endpoint: row.endpointId, key: row.dedupKey, deliveries });
  }
  return made;
}
