import { renewLeases, takeOverExpired, withRetry, type Pool, type TakenOverRow } from '@tickwise/db';
import type { Logger } from '@tickwise/platform';
import type { SchedulerConfig } from './config.ts';
import type { NodeMetrics } from './metrics.ts';
import { every, type Periodic } from './periodic.ts';

export interface LeaseKeeperOptions {
  pool: Pool;
  config: Pick<SchedulerConfig, 'workerId' | 'leaseMs' | 'claimBatch'>;
  log: Logger;
  metrics: NodeMetrics;
  /** The ids of the machines the node holds. */
  held(): string[];
  /** A lease the node held is no longer its own (a peer took the machine over). */
  lost(id: string): void;
  /** These leases were renewed by a statement sent at `sentAt` (performance.now()). */
  renewed(ids: string[], sentAt: number): void;
  /** How many more machines the node may hold now. */
  room(): number;
  /** Takes machines taken over from a peer whose lease expired: their slot runs again. Leased from no earlier than `sentAt`. */
  accept(rows: TakenOverRow[], sentAt: number): Promise<void>;
  onError(message: string, error: Error): void;
}

/**
 * Keeps the node's leases and takes over its dead peers': renews every lease the node holds every
 * third of the lease, and every quarter of it leases machines whose owner's lease expired mid-slot.
 */
export class LeaseKeeper {
  private tasks: Periodic[] = [];

  constructor(private readonly options: LeaseKeeperOptions) {}

  start(): void {
    const { leaseMs } = this.options.config;
    const onError = (error: Error) => this.options.onError('lease upkeep failed', error);
    this.tasks = [every(Math.max(100, Math.floor(leaseMs / 3)), () => this.renew(), onError), every(Math.max(100, Math.floor(leaseMs / 4)), () => this.takeOver(), onError)];
  }

  stop(): void {
    for (const task of this.tasks) task.stop();
  }

  private async renew(): Promise<void> {
    const ids = this.options.held();
    if (ids.length === 0) return;
    const { pool, config } = this.options;
    // Taken before the statement leaves: the database's new lease runs from no earlier than this.
    const sentAt = performance.now();
    const kept = await withRetry(() => renewLeases(pool, config.workerId, ids, config.leaseMs));
    this.options.renewed([...kept], sentAt);
    for (const id of ids) if (!kept.has(id)) this.options.lost(id);
  }

  private async takeOver(): Promise<void> {
    const room = this.options.room();
    if (room <= 0) return;
    const { pool, config, metrics, log } = this.options;
    const sentAt = performance.now();
    const rows = await withRetry(() => takeOverExpired(pool, config.workerId, Math.min(room, config.claimBatch), config.leaseMs));
    if (rows.length === 0) return;
    metrics.tookOver(rows.length);
    log.info('took over expired leases', { count: rows.length, from: [...new Set(rows.map((row) => row.previousOwner))] });
    await this.options.accept(rows, sentAt);
  }
}
