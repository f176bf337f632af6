import { connectionSafetyOf, type Listener, NOTICES_CHANNEL, NOTIFICATIONS_CHANNEL, type Pool, startListener } from '@tickwise/db';
import type { RunEvent } from '@tickwise/events';
import type { Logger, TargetPolicy } from '@tickwise/platform';
import { DeliveryWorker } from './delivery-worker.ts';
import { NoticeReader } from './notice-reader.ts';
import { NotificationSender } from './sender.ts';
import type { NotifySettings } from './settings.ts';
import { NotifyTracker } from './tracker.ts';

export interface NotifierOptions {
  pool: Pool;
  /** For the LISTEN connection. */
  connectionString: string;
  settings: NotifySettings;
  /** The target policy of this process (TICKWISE_ALLOW_TARGETS / TICKWISE_DENY_TARGETS). */
  policy: TargetPolicy;
  /** Names this planner in delivery leases. */
  owner: string;
  log: Logger;
  /** false: never LISTEN (poll only). */
  listen?: boolean;
}

/**
 * Notifications in the planner process, all parts wired: the tracker (run events → failing and
 * recovered notices, called by the planner with each batch), the notice reader (endpoint_notices →
 * paused notices) and the sender. One LISTEN connection wakes the reader and the sender; both also
 * poll every `pollMs`, their only path where NOTIFY is missing.
 */
export class Notifier {
  readonly tracker: NotifyTracker;
  readonly worker: DeliveryWorker;
  private readonly reader: NoticeReader;
  private readonly sender: NotificationSender;
  private listener: Listener | undefined;
  private running = false;
  private readerLoop: Promise<void> | undefined;
  private readerWake: (() => void) | undefined;
  private readerPending = false;

  constructor(private readonly options: NotifierOptions) {
    const { pool, settings, log } = options;
    const onDeliveries = () => this.worker.poke();
    this.tracker = new NotifyTracker({ pool, publicUrl: settings.publicUrl, log, onDeliveries });
    this.reader = new NoticeReader({ pool, publicUrl: settings.publicUrl, log, onDeliveries });
    this.sender = new NotificationSender({ policy: options.policy, timeoutMs: settings.timeoutMs });
    this.worker = new DeliveryWorker({ pool, owner: options.owner, sender: this.sender, settings, log });
  }

  /** Called by the planner with every batch before it is acknowledged. */
  handleEvents(events: readonly RunEvent[]): Promise<void> {
    return this.tracker.handleEvents(events);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    if (this.options.listen !== false) {
      this.listener = startListener({
        connectionString: this.options.connectionString,
        safety: connectionSafetyOf(this.options.pool),
        channels: [NOTICES_CHANNEL, NOTIFICATIONS_CHANNEL],
        onNotify: (channel) => (channel === NOTICES_CHANNEL ? this.pokeReader() : this.worker.poke()),
        onStatus: (status, error) => {
          if (status === 'unsupported') this.options.log.warn('NOTIFY is not supported here: polling for notices and deliveries', { every_ms: this.options.settings.pollMs, error: error?.message });
          // What was announced while the listener was (re)connecting is read at once.
          if (status === 'listening') {
            this.pokeReader();
            this.worker.poke();
          }
        },
      });
    }
    this.worker.start();
    this.readerLoop = this.readNotices();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.pokeReader();
    await this.readerLoop;
    await this.worker.stop();
    await this.listener?.close();
    await this.sender.close();
  }

  private pokeReader(): void {
    this.readerPending = true;
    this.readerWake?.();
  }

  private async readNotices(): Promise<void> {
    while (this.running) {
      try {
        await this.reader.readOnce();
      } catch (error) {
        this.options.log.error('reading endpoint notices failed; retrying', { error: (error as Error).message });
      }
      if (this.readerPending || !this.running) {
        this.readerPending = false;
        continue;
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.readerWake = undefined;
          resolve();
        };
        const timer = setTimeout(done, this.options.settings.pollMs);
        this.readerWake = () => {
          this.readerPending = false;
          done();
        };
      });
    }
  }
}
