import type { Logger } from '@tickwise/platform';

export interface VersionedCacheOptions<T> {
  /** A change is in use at most this long after it was written. */
  refreshMs: number;
  /** One cheap aggregate that changes whenever the data does. */
  version(): Promise<string>;
  /** Reads the data whole (only when the version moved). */
  load(): Promise<T>;
  log?: Logger;
  /** What the log says when a load fails: with a set loaded (kept) and without one. */
  failure: { keeping: string; none: string };
  /** The clock (ms); injected by tests. */
  now?: () => number;
}

/**
 * Data a node keeps in memory so a call costs no query (the signing secrets, the secrets' values).
 * Once it is `refreshMs` old, one aggregate says whether anything changed, and only then is the data
 * read again, whole. Past three quarters of `refreshMs` a reader starts that check in the background;
 * past `refreshMs` it waits for it: a change is in use within `refreshMs`. One load at a time. A load
 * that fails keeps the last data (and says so in the log); a read before any data could be loaded
 * fails with the load's error.
 */
export class VersionedCache<T> {
  private loaded: { at: number; version: string; data: T } | undefined;
  private loading: Promise<T> | undefined;
  private readonly now: () => number;

  constructor(private readonly options: VersionedCacheOptions<T>) {
    if (!Number.isInteger(options.refreshMs) || options.refreshMs < 1) throw new TypeError(`refreshMs must be a positive whole number of ms, got ${options.refreshMs}`);
    this.now = options.now ?? Date.now;
  }

  /**
   * The data without waiting, while it is younger than `refreshMs` (past three quarters of it a check
   * starts in the background); undefined when a reader must wait for `current()`. For the hot path:
   * a call that needs no query costs no promise either.
   */
  fresh(): T | undefined {
    if (!this.loaded) return undefined;
    const age = this.now() - this.loaded.at;
    if (age >= this.options.refreshMs) return undefined;
    if (age >= (this.options.refreshMs * 3) / 4) void this.reload().catch(() => undefined);
    return this.loaded.data;
  }

  /** The data, refreshed as described above. */
  async current(): Promise<T> {
    const fresh = this.fresh();
    if (fresh !== undefined) return fresh;
    try {
      return await this.reload();
    } catch (error) {
      if (this.loaded) return this.loaded.data;
      throw error;
    }
  }

  /** Checks the version now (one load at a time), whatever the data's age. */
  reload(): Promise<T> {
    this.loading ??= this.load().finally(() => (this.loading = undefined));
    return this.loading;
  }

  /** Forgets the data: the next read loads it. */
  invalidate(): void {
    this.loaded = undefined;
  }

  private async load(): Promise<T> {
    const startedAt = this.now();
    try {
      // Read before the data: a change in between shows as a new version next time, never as a lost one.
      const version = await this.options.version();
      if (this.loaded?.version === version) {
        this.loaded.at = startedAt;
        return this.loaded.data;
      }
      const data = await this.options.load();
      this.loaded = { at: startedAt, version, data };
      return data;
    } catch (error) {
      this.options.log?.warn(this.loaded ? this.options.failure.keeping : this.options.failure.none, { error: (error as Error).message });
      throw error;
    }
  }
}
