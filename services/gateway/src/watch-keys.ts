import { liveApiKeyIds, type Queryable } from '@tickwise/db';
import type { Logger } from '@tickwise/platform';

/**
 * Ends the open watches of a key that was revoked. A key is checked when a call starts, and a Watch
 * is one call that may last hours: so while watches are open, their keys are looked up again every
 * `recheckMs` (one statement for all of them, whichever gateway or `tickwise keys revoke` revoked
 * the key), and a key revoked through this gateway ends its watches here at once. A failed look
 * (the database away) ends nothing: the next one decides.
 */
export class WatchKeys {
  private readonly open = new Map<string, Set<() => void>>();
  private timer: NodeJS.Timeout | undefined;
  private checking = false;

  constructor(
    private readonly db: Queryable,
    private readonly recheckMs: number,
    private readonly log: Logger,
  ) {}

  /** Registers an open watch of `keyId`; `revoked` ends it. Returns what releases it when the watch ends. */
  hold(keyId: string, revoked: () => void): () => void {
    const ends = this.open.get(keyId) ?? new Set();
    ends.add(revoked);
    this.open.set(keyId, ends);
    this.timer ??= setInterval(() => void this.check(), this.recheckMs).unref();
    return () => {
      ends.delete(revoked);
      if (ends.size === 0 && this.open.get(keyId) === ends) this.open.delete(keyId);
      if (this.open.size === 0) this.stop();
    };
  }

  /** The key was revoked: its watches end now. */
  revoke(keyId: string): void {
    const ends = this.open.get(keyId);
    this.open.delete(keyId);
    for (const end of ends ?? []) end();
    if (this.open.size === 0) this.stop();
  }

  close(): void {
    this.open.clear();
    this.stop();
  }

  private stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async check(): Promise<void> {
    if (this.checking || this.open.size === 0) return;
    this.checking = true;
    try {
      const keys = [...this.open.keys()];
      const live = await liveApiKeyIds(this.db, keys);
      for (const keyId of keys) {
        if (live.has(keyId)) continue;
        this.log.info('ending the watches of a revoked API key', { key: keyId, watches: this.open.get(keyId)?.size ?? 0 });
        this.revoke(keyId);
      }
    } catch (error) {
      this.log.warn('could not check the keys of open watches; trying again', { error: (error as Error).message });
    } finally {
      this.checking = false;
    }
  }
}
