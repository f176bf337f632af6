import { activeSigningSecrets, signingSecretsVersion, type Queryable } from '@tickwise/db';
import type { Logger } from '@tickwise/platform';
import { VersionedCache } from './versioned-cache.ts';

/** Where a dispatcher finds the secrets to sign a call with. */
export interface SecretSource {
  /** The secrets to sign with, newest first (none: the call is sent unsigned); a promise only while they must be loaded. */
  secretsFor(endpointId: string, tenantId: string | null | undefined): readonly Buffer[] | Promise<readonly Buffer[]>;
}

interface CachedSecret {
  secret: Buffer;
  /** ms since epoch; a retired secret signs until then. */
  expiresAt: number | null;
}

interface SecretsByOwner {
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

const NONE: readonly Buffer[] = [];

/** The secrets of a list that still sign at `now` (a retired one signs until its expiry). */
function usable(list: readonly CachedSecret[] | undefined, now: number): readonly Buffer[] {
  if (!list) return NONE;
  return list.filter((entry) => entry.expiresAt === null || entry.expiresAt > now).map((entry) => entry.secret);
}

/**
 * The usable signing secrets of every endpoint and tenant, held in memory so a call costs no query
 * and refreshed as a VersionedCache is: a new, rotated or revoked secret is in use within
 * `refreshMs`. A retired secret stops signing at its expiry, checked at every call. A call made
 * before any set could be loaded fails (`signing`). An endpoint's own secrets take precedence over
 * its tenant's.
 */
export class SigningSecretCache implements SecretSource {
  private readonly cache: VersionedCache<SecretsByOwner>;
  private readonly now: () => number;

  constructor(db: Queryable, options: SigningSecretCacheOptions) {
    this.now = options.now ?? Date.now;
    this.cache = new VersionedCache({
      refreshMs: options.refreshMs,
      now: options.now,
      log: options.log,
      failure: { keeping: 'could not reload signing secrets; signing with the last loaded set', none: 'could not load signing secrets' },
      version: () => signingSecretsVersion(db),
      load: async () => {
        const rows = await activeSigningSecrets(db);
        const owners: SecretsByOwner = { byEndpoint: new Map(), byTenant: new Map() };
        // Newest first: the id is a UUIDv7, and the order is the order of the signatures.
        rows.sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
        for (const row of rows) {
          const [map, key] = row.endpointId ? [owners.byEndpoint, row.endpointId] : [owners.byTenant, row.tenantId!];
          const list = map.get(key) ?? [];
          list.push({ secret: row.secret, expiresAt: row.expiresAt?.getTime() ?? null });
          map.set(key, list);
        }
        return owners;
      },
    });
  }

  secretsFor(endpointId: string, tenantId: string | null | undefined): readonly Buffer[] | Promise<readonly Buffer[]> {
    const owners = this.cache.fresh();
    if (owners) return this.usableFor(owners, endpointId, tenantId);
    return this.cache.current().then((loaded) => this.usableFor(loaded, endpointId, tenantId));
  }

  private usableFor(owners: SecretsByOwner, endpointId: string, tenantId: string | null | undefined): readonly Buffer[] {
    const now = this.now();
    const own = usable(owners.byEndpoint.get(endpointId), now);
    if (own.length > 0 || !tenantId) return own;
    return usable(owners.byTenant.get(tenantId), now);
  }

  /** Drops the loaded set: the next call reloads (after a rotation by this process, say). */
  invalidate(): void {
    this.cache.invalidate();
  }
}
