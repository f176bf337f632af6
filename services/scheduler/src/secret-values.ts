import { allSealedSecrets, secretsVersion, type Queryable } from '@tickwise/db';
import { keysOf, openSecret, type Logger, type SecretsKeyring } from '@tickwise/platform';
import { VersionedCache } from './versioned-cache.ts';

/** Where a dispatcher finds the values of the `{{secrets.NAME}}` a call references. */
export interface SecretValues {
  /** The values of `names` (of the endpoint's tenant), or why one of them cannot be had. */
  valuesFor(tenantId: string, names: readonly string[]): Promise<{ values: Map<string, string> } | { problem: string }>;
}

/** One secret as the node holds it: its value, or why it has none (a key it lacks, a ciphertext that does not open). */
type Entry = { value: string } | { problem: string };

export interface SecretValueCacheOptions {
  /** The keys this node decrypts with (TICKWISE_SECRETS_KEY, and TICKWISE_SECRETS_OLD_KEY during a rotation). */
  keyring: SecretsKeyring;
  /** A set or deleted secret is in use at most this long after it was written. */
  refreshMs: number;
  log?: Logger;
  /** The clock (ms); injected by tests. */
  now?: () => number;
}

export const DEFAULT_SECRETS_REFRESH_MS = 10_000;
/** A name the node does not know makes it look again at once, but not more often than this. */
const MISS_RECHECK_MS = 1_000;

const keyOf = (tenantId: string, name: string) => `${tenantId}\0${name}`;

/**
 * Every tenant's secrets, decrypted once and held in memory so that a call costs no query, and
 * refreshed as a VersionedCache is: a set or deleted secret is in use within `refreshMs`. A name the
 * set lacks (a secret set a moment ago) makes the node look again at once, at most once a second.
 * Values never reach a log: warnings name secrets and keys only.
 */
export class SecretValueCache implements SecretValues {
  private readonly cache: VersionedCache<Map<string, Entry>>;
  private lastMissCheck = -Infinity;
  private readonly now: () => number;

  constructor(db: Queryable, options: SecretValueCacheOptions) {
    this.now = options.now ?? Date.now;
    this.cache = new VersionedCache({
      refreshMs: options.refreshMs,
      now: options.now,
      log: options.log,
      failure: { keeping: 'could not reload secrets; using the last loaded set', none: 'could not load secrets' },
      version: () => secretsVersion(db),
      load: async () => {
        const keys = keysOf(options.keyring);
        const entries = new Map<string, Entry>();
        const unreadable: string[] = [];
        for (const row of await allSealedSecrets(db)) {
          try {
            entries.set(keyOf(row.tenantId, row.name), { value: openSecret(keys, row.tenantId, row.name, row) });
          } catch (error) {
            entries.set(keyOf(row.tenantId, row.name), { problem: (error as Error).message });
            unreadable.push((error as Error).message);
          }
        }
        if (unreadable.length > 0) options.log?.warn(`${unreadable.length} secret(s) cannot be decrypted by this node; calls that use them fail (secret_missing)`, { first: unreadable[0] });
        return entries;
      },
    });
  }

  async valuesFor(tenantId: string, names: readonly string[]): Promise<{ values: Map<string, string> } | { problem: string }> {
    let entries = await this.cache.current();
    if (names.some((name) => !entries.has(keyOf(tenantId, name))) && this.now() - this.lastMissCheck >= MISS_RECHECK_MS) {
      this.lastMissCheck = this.now();
      entries = await this.cache.reload().catch(() => entries);
    }
    const values = new Map<string, string>();
    for (const name of names) {
      const entry = entries.get(keyOf(tenantId, name));
      if (!entry) return { problem: `secret "${name}" does not exist in the endpoint's tenant (deleted, or not set yet)` };
      if ('problem' in entry) return { problem: entry.problem };
      values.set(name, entry.value);
    }
    return { values };
  }
}
