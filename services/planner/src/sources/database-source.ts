import { advanceCursor, connectionSafetyOf, countRunEvents, leaseCursor, type Listener, type Pool, readRunEvents, releaseCursor, RUN_EVENTS_CHANNEL, runEventIds, runEventsByIds, startListener, type StoredRunEvent, uuid7Floor, uuid7Time } from '@tickwise/db';
import { decodeRunEventMessage, type RunEvent } from '@tickwise/events';
import { checkInteger, invalidConfig, TickwiseError, type Logger } from '@tickwise/platform';
import type { RunEventBatch, RunEventSource } from './types.ts';
import { WakeUp } from '../wake-up.ts';

export interface DatabaseSourceOptions {
  pool: Pool;
  /** For the LISTEN connection. */
  connectionString: string;
  /** The cursor's name: one reader per name at a time. */
  cursorName?: string;
  owner: string;
  /** The longest wait for new events where NOTIFY is missing. */
  pollIntervalMs?: number;
  batchSize?: number;
  /** How long after its id was made an event may still commit (group commit, retries): re-read that far back. */
  lateWindowMs?: number;
  leaseMs?: number;
  /** false: never LISTEN (as on YugabyteDB without NOTIFY). */
  listen?: boolean;
  log: Logger;
}

/**
 * Reads the run_events outbox in id order from a stored cursor, woken by NOTIFY and polling where
 * NOTIFY is missing. Ids are made by the writers before they commit, so an event can appear below
 * the ids already read: the source re-checks a window behind its position and delivers what it had
 * not seen. After a restart it redelivers that window (at least once; the planner's fold is idempotent).
 */
export class DatabaseRunEventSource implements RunEventSource {
  readonly name = 'database';
  private readonly cursorName: string;
  private readonly pollIntervalMs: number;
  private readonly batchSize: number;
  private readonly lateWindowMs: number;
  private readonly leaseMs: number;
  private listener: Listener | undefined;
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly wakeUp = new WakeUp();
  /** The highest id delivered (and acknowledged). */
  private position: string | null = null;
  /** Ids delivered within the late window, by id. */
  private readonly seen = new Set<string>();
  private waiting: number | null = null;

  constructor(private readonly options: DatabaseSourceOptions) {
    this.cursorName = options.cursorName ?? 'planner';
    this.pollIntervalMs = options.pollIntervalMs ?? 1_000;
    this.batchSize = options.batchSize ?? 2_000;
    this.lateWindowMs = options.lateWindowMs ?? 10_000;
    this.leaseMs = options.leaseMs ?? 30_000;
    validateOptions({ cursorName: this.cursorName, owner: options.owner, pollIntervalMs: this.pollIntervalMs, batchSize: this.batchSize, lateWindowMs: this.lateWindowMs, leaseMs: this.leaseMs });
  }

  async start(handle: (batch: RunEventBatch) => Promise<void>): Promise<void> {
    if (this.running) throw new TickwiseError('failed_precondition', 'the database source is already started', { reason: 'already_started' });
    this.running = true;
    if (this.options.listen !== false) {
      this.listener = startListener({
        connectionString: this.options.connectionString,
        safety: connectionSafetyOf(this.options.pool),
        channels: [RUN_EVENTS_CHANNEL],
        onNotify: () => this.poke(),
        onStatus: (status, error) => {
          if (status === 'unsupported') this.options.log.warn('NOTIFY is not supported here: polling for run events', { every_ms: this.pollIntervalMs, error: error?.message });
          if (status === 'listening') {
            this.options.log.info('woken by NOTIFY on new run events', { channel: RUN_EVENTS_CHANNEL });
            // Notifications sent while the listener was (re)connecting are lost: read at once.
            this.poke();
          }
        },
      });
    }
    this.loop = this.run(handle);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.poke();
    await this.loop;
    await this.listener?.close();
    await releaseCursor(this.options.pool, this.cursorName, this.options.owner).catch(() => undefined);
  }

  lag(): number | null {
    return this.waiting;
  }

  isRunning(): boolean {
    return this.running;
  }

  private poke(): void {
    this.wakeUp.poke();
  }

  private sleep(ms: number): Promise<void> {
    return this.wakeUp.sleep(ms, !this.running);
  }

  private async run(handle: (batch: RunEventBatch) => Promise<void>): Promise<void> {
    let holding = false;
    let lastLease = 0;
    while (this.running) {
      try {
        if (!holding || Date.now() - lastLease > this.leaseMs / 3) {
          const lease = await leaseCursor(this.options.pool, this.cursorName, this.options.owner, this.leaseMs);
          if (!lease) {
            if (holding) this.options.log.warn('the run-event cursor is held by another planner: standing by', { cursor: this.cursorName });
            holding = false;
            await this.sleep(this.pollIntervalMs);
            continue;
          }
          if (!holding) {
            this.position = lease.position;
            this.seen.clear();
            this.options.log.info('reading run events from the database', { cursor: this.cursorName, position: lease.position });
          }
          holding = true;
          lastLease = Date.now();
        }
        const delivered = await this.deliverOnce(handle);
        // Never sleeps through a lease renewal, however long the poll interval.
        if (delivered < this.batchSize) await this.sleep(Math.min(this.pollIntervalMs, this.leaseMs / 3));
      } catch (error) {
        this.options.log.error('reading run events failed; retrying', { error: (error as Error).message });
        holding = false;
        await this.sleep(Math.min(this.pollIntervalMs, 1_000));
      }
    }
  }

  /**
   * Delivers the rows above the position, then (every poll interval) the rows that committed late
   * below it: a count of the window compared with what was seen there says whether any did.
   * Acknowledges by advancing the stored position. Returns how many new rows were read.
   */
  private async deliverOnce(handle: (batch: RunEventBatch) => Promise<void>): Promise<number> {
    const { pool } = this.options;
    const fresh = await readRunEvents(pool, this.position, this.batchSize);
    const late = await this.lateRows();
    const rows = [...late, ...fresh.filter((row) => !this.seen.has(row.id))];
    this.waiting = rows.length;
    if (rows.length === 0) return 0;
    const events: RunEvent[] = [];
    for (const row of rows) {
      try {
        const event = decodeRunEventMessage(row.payload as object);
        if (event) events.push(event);
        else this.options.log.warn('skipping an outbox row that carries no run event', { id: row.id });
      } catch (error) {
        this.options.log.warn('skipping an undecodable run event', { id: row.id, error: (error as Error).message });
      }
    }
    if (events.length > 0) await handle({ events });
    for (const row of rows) this.seen.add(row.id);
    const highest = fresh.at(-1)?.id;
    if (highest !== undefined && (this.position === null || highest > this.position)) {
      this.position = highest;
      const stillHolding = await advanceCursor(pool, this.cursorName, this.options.owner, highest);
      if (!stillHolding) throw new Error('lost the run-event cursor lease');
    }
    this.forgetBehindWindow();
    this.waiting = 0;
    return fresh.length;
  }

  private lastLateCheck = 0;

  /** Rows that committed after rows above them were read (their ids were made earlier). */
  private async lateRows(): Promise<StoredRunEvent[]> {
    if (this.position === null || Date.now() - this.lastLateCheck < this.pollIntervalMs) return [];
    this.lastLateCheck = Date.now();
    const floor = this.windowFloor();
    let seenInWindow = 0;
    for (const id of this.seen) if (id > floor && id <= this.position) seenInWindow++;
    const { pool } = this.options;
    if ((await countRunEvents(pool, floor, this.position)) <= seenInWindow) return [];
    const missing = (await runEventIds(pool, floor, this.position)).filter((id) => !this.seen.has(id));
    return runEventsByIds(pool, missing);
  }

  private windowFloor(): string {
    return uuid7Floor(new Date(uuid7Time(this.position!).getTime() - this.lateWindowMs));
  }

  private forgetBehindWindow(): void {
    if (this.position === null) return;
    const floor = this.windowFloor();
    for (const id of this.seen) if (id < floor) this.seen.delete(id);
  }
}

function validateOptions(options: { cursorName: string; owner: string; pollIntervalMs: number; batchSize: number; lateWindowMs: number; leaseMs: number }): void {
  checkInteger('pollIntervalMs', options.pollIntervalMs, 1, 3_600_000);
  checkInteger('batchSize', options.batchSize, 1, 100_000);
  checkInteger('lateWindowMs', options.lateWindowMs, 0, 3_600_000);
  checkInteger('leaseMs', options.leaseMs, 100, 3_600_000);
  for (const key of ['cursorName', 'owner'] as const) {
    const value = options[key];
    if (typeof value !== 'string' || !/^[A-Za-z0-9._:-]{1,100}$/.test(value)) {
      throw invalidConfig(`${key} must be 1-100 letters, digits, ".", "_", ":" or "-", got ${JSON.stringify(value)}`);
    }
  }
}
