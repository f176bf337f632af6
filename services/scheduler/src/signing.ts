import { activeSigningSecrets, signingSecretsVersion, type Queryable } from '@tickwise/db';
import type { Logger } from '@tickwise/platform';

/** Where a dispatcher finds the secrets to sign a call with. */
export interface SecretSource {
  /** The secrets to sign with, newest first (none: the call is sent unsigned). */
  secretsFor(endpointId: string, tenantId: string | null | undefined): Promise<readonly Buffer[]>;
}

interface CachedSecret {
  secret: Buffer;
  /** ms since epoch; a retired secret signs until then. */
  expiresAt: number | null;
}

interface Snapshot {
  loadedAt: number;
  /** `signingSecretsVersion` when the set was read: while it holds, the set is current. */
  version: string;
  byEndpoint: Map<string, CachedSecret[]>;
  byTenant: Map<string, CachedSecret[]>;
}

export interface SigningSecretCacheOptions {
  /** A new, rotated or revoked secret is in use at most this long after it was written. */
  refreshMs: number;
  log?: Logger;
  /** The clock (ms); injected by tests. */
  now?: () => number;
}

export const DEFAULT_SIGNING_REFRESH_MS = 10_000;

/**
 * The usable signing secrets of every endpoint and tenant, held in memory so a call costs no query.
 * Once the set is `refreshMs` old, one aggregate says whether any secret changed, and only then is
 * the set read again, whole. Past three quarters of `refreshMs` a call starts that check in the
 * background; past `refreshMs` it waits for it: a new, rotated or revoked secret is in use within
 * `refreshMs`. A retired secret stops signing at its expiry, checked at every call. A check that
 * fails keeps the last set (and says so in the log); a call made before any set could be loaded
 * fails (`signing`). An endpoint's own secrets take precedence over its tenant's.
 */
export class SigningSecretCache implements SecretSource {
  private snapshot: Snapshot | undefined;
  private loading: Promise<Snapshot> | undefined;
  private readonly now: () => number;

  constructor(private readonly db: Queryable, private readonly options: SigningSecretCacheOptions) {
    if (!Number.isInteger(options.refreshMs) || options.refreshMs < 1) throw new TypeError(`refreshMs must be a positive whole number of ms, got ${options.refreshMs}`);
    this.now = options.now ?? Date.now;
  }

  async secretsFor(endpointId: string, tenantId: string | null | undefined): Promise<readonly Buffer[]> {
    const snapshot = await this.current();
    const now = this.now();
    const usable = (list: CachedSecret[] | undefined) => (list ?? []).filter((entry) => entry.expiresAt === null || entry.expiresAt > now).map((entry) => entry.secret);
    const own = usable(snapshot.byEndpoint.get(endpointId));
    if (own.length > 0 || !tenantId) return own;
    return usable(snapshot.byTenant.get(tenantId));
  }

  /** Drops the loaded set: the next call reloads (after a rotation by this process, say). */
  invalidate(): void {
    this.snapshot = undefined;
  }

  private async current(): Promise<Snapshot> {
    const age = this.snapshot ? this.now() - this.snapshot.loadedAt : Infinity;
    if (this.snapshot && age < this.options.refreshMs) {
      if (age >= (this.options.refreshMs * 3) / 4) void this.reload().catch(() => undefined);
      return this.snapshot;
    }
    try {
      return await this.reload();
    } catch (error) {
      if (this.snapshot) return this.snapshot;
      throw error;
    }
  }

  private reload(): Promise<Snapshot> {
    this.loading ??= this.load().finally(() => (this.loading = undefined));
    return this.loading;
  }

  private async load(): Promise<Snapshot> {
    const startedAt = this.now();
    try {
      // Read before the rows: a change in between shows as a new version next time, never as a lost one.
      const version = await signingSecretsVersion(this.db);
      if (this.snapshot?.version === version) {
        this.snapshot.loadedAt = startedAt;
        return this.snapshot;
      }
      const rows = await activeSigningSecrets(this.db);
      const snapshot: Snapshot = { loadedAt: startedAt, version, byEndpoint: new Map(), byTenant: new Map() };
      // Newest first: the id is a UUIDv7, and the order is the order of the signatures.
      rows.sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
      for (const row of rows) {
        const [map, key] = row.endpointId ? [snapshot.byEndpoint, row.endpointId] : [snapshot.byTenant, row.tenantId!];
        const list = map.get(key) ?? [];
        list.push({ secret: row.secret, expiresAt: row.expiresAt?.getTime() ?? null });
        map.set(key, list);
      }
      this.snapshot = snapshot;
      return snapshot;
    } catch (error) {
      this.options.log?.warn(this.snapshot ? 'could not reload signing secrets; signing with the last loaded set' : 'could not load signing secrets', { error: (error as Error).message });
      throw error;
    }
  }
}
