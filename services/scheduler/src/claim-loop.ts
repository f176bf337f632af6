import { BUCKET_COUNT, claimDue, nextDueAt, withRetry, type EndpointRow, type Pool } from '@tickwise/db';
import type { Logger } from '@tickwise/platform';
import type { SchedulerConfig } from './config.ts';
import type { ClaimShare } from './fair-share.ts';
import type { NodeMetrics } from './metrics.ts';

/**
 * Longest wait between failed claims. Short, because it is also how long claiming may lag behind a
 * database that came back (a partition healed, a restart): one failing claim per node every 2 s
 * costs a database next to nothing.
 */
const MAX_BACKOFF_MS = 2_000;

export interface ClaimLoopOptions {
  pool: Pool;
  config: Pick<SchedulerConfig, 'workerId' | 'claimBatch' | 'leaseMs' | 'claimAheadMs' | 'pollIntervalMs'>;
  log: Logger;
  metrics: NodeMetrics;
  /** How many more machines the node may hold now. */
  room(): number;
  /** What a claim of up to `limit` machines due by `horizon` may take, tenants sharing the node fairly. */
  share(horizon: Date, limit: number): Promise<ClaimShare>;
  /**
   * Takes the claimed machines; the loop claims again once it resolves. `sentAt` (performance.now())
   * is when the claim statement was sent: their leases run from no earlier than that.
   */
  accept(rows: EndpointRow[], sentAt: number): Promise<void>;
  onError(message: string, error: Error): void;
}

/**
 * Claims due machines a little ahead of their slots: each claim takes what is due within the
 * claim-ahead window, and the loop claims again when the next slot is half that window away, so a
 * machine is claimed between the whole and half of the window before its slot. After a full batch
 * it claims again at once; otherwise it sleeps until that claim time, at most the poll interval, or
 * until woken (a LISTEN wake-up, a commit that planned something sooner, room freed). Buckets are
 * taken in turn from an offset of the node's own, so peers start in different places.
 *
 * Why half: waking when the next slot first comes into view (the whole window before it) claimed
 * each slot of a steady stream on its own, a claim and a next-due read (two looks at every bucket)
 * every few milliseconds, which at 1,000 calls/s kept PostgreSQL busier than the calls did. Waking
 * at half gathers every slot of the next half window into one claim and still leaves half the
 * window for the claim itself.
 */
export class ClaimLoop {
  private loop: Promise<void> | undefined;
  private stopping = false;
  private wakeUp: (() => void) | undefined;
  private sleepingUntil = Infinity;
  /**
   * The earliest claim time asked for while the loop was awake (claiming, or reading the next due
   * time), which that claim may have missed: the sleep that follows ends no later (0: at once).
   */
  private missedWakeAt = Infinity;
  private bucketOffset: number;
  /** Tenants the last claim left out: one of their machines let go makes room for them again. */
  private leftOut = new Set<string>();

  constructor(private readonly options: ClaimLoopOptions) {
    this.bucketOffset = [...options.config.workerId].reduce((sum, char) => sum + char.charCodeAt(0), 0) % BUCKET_COUNT;
  }

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake();
    await this.loop;
  }

  wake(): void {
    if (this.wakeUp) this.wakeUp();
    else this.missedWakeAt = 0;
  }

  /** A machine of `tenant` was let go: if the last claim left that tenant out, claim again now. */
  released(tenant: string): void {
    if (this.leftOut.has(tenant)) this.wake();
  }

  /** Wakes the loop if it would sleep past the claim time of a slot at `at` (ms). */
  wakeFor(at: number): void {
    const claimAt = this.claimTimeOf(at);
    if (!this.wakeUp) this.missedWakeAt = Math.min(this.missedWakeAt, claimAt);
    else if (claimAt < this.sleepingUntil) this.wakeUp();
  }

  private async run(): Promise<void> {
    const { config, metrics, log } = this.options;
    let backoff = 100;
    while (!this.stopping) {
      // A wake-up from here on may come too late for this claim to see: the next sleep honours it.
      this.missedWakeAt = Infinity;
      try {
        const room = this.options.room();
        if (room <= 0) {
          await this.sleep(Date.now() + config.pollIntervalMs);
          continue;
        }
        const horizon = new Date(Date.now() + config.claimAheadMs);
        const share = await this.options.share(horizon, Math.min(config.claimBatch, room));
        const excludedTenants = share.excluded;
        const limit = Math.min(config.claimBatch, room, share.most);
        const buckets = this.rotatedBuckets();
        const started = performance.now();
        // Under REPEATABLE READ (YugabyteDB without read committed) competing claims can fail with 40001.
        const rows = await withRetry(() => claimDue(this.options.pool, { worker: config.workerId, limit, leaseMs: config.leaseMs, horizon, buckets, excludedTenants }));
        const claimMs = performance.now() - started;
        metrics.claim(claimMs / 1_000, rows.length);
        if (claimMs > config.claimAheadMs) {
          log.warn('a claim took longer than the claim-ahead window: slots may start late', { claimMs: Math.round(claimMs), claimAheadMs: config.claimAheadMs, claimed: rows.length });
        }
        if (rows.length > 0) await this.options.accept(rows, started);
        backoff = 100;
        if (rows.length === limit || this.stopping) continue;
        this.leftOut = new Set(excludedTenants);
        const next = await nextDueAt(this.options.pool, buckets, excludedTenants);
        await this.sleep(Math.min(Date.now() + config.pollIntervalMs, next ? this.claimTimeOf(next.getTime()) : Infinity));
      } catch (error) {
        this.options.onError('claim failed', error as Error);
        this.missedWakeAt = Infinity; // a failing database is not asked again sooner for a commit's wake-up
        await this.sleep(Date.now() + backoff);
        backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
      }
    }
  }

  /** Sleeps until `until`, a wake-up, or a claim time asked for while awake, whichever comes first. */
  private async sleep(wanted: number): Promise<void> {
    const until = Math.min(wanted, this.missedWakeAt);
    const ms = until - Date.now();
    if (ms <= 0 || this.stopping) return;
    this.sleepingUntil = until;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wakeUp = undefined;
    this.sleepingUntil = Infinity;
  }

  /** When to claim a slot at `slot` (ms): half the claim-ahead window before it. */
  private claimTimeOf(slot: number): number {
    return slot - this.options.config.claimAheadMs / 2;
  }

  private rotatedBuckets(): number[] {
    this.bucketOffset = (this.bucketOffset + 1) % BUCKET_COUNT;
    return Array.from({ length: BUCKET_COUNT }, (_, index) => (index + this.bucketOffset) % BUCKET_COUNT);
  }
}
