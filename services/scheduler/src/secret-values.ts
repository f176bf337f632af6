import { allSealedSecrets, secretsVersion, type Queryable } from '@tickwise/db';
import { keysOf, openSecret, type Logger, type SecretsKeyring } from '@tickwise/platform';

/** Where a dispatcher finds the values of the `{{secrets.NAME}}` a call references. */
export interface SecretValues {
  /** The values of `names` (of the endpoint's tenant), or why one of them cannot be had. */
  valuesFor(tenantId: string, names: readonly string[]): Promise<{ values: Map<string, string> } | { problem: string }>;
}

/** One secret as the node holds it: its value, or why it has none (a key it lacks, a ciphertext that does not open). */
type Entry = { value: string } | { problem: string };

interface Snapshot {
  loadedAt: number;
  /** `secretsVersion` when the secrets were read: while it holds, they are current. */
  version: string;
  entries: Map<string, Entry>;
}

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
 * Every tenant's secrets, decrypted once and held in memory so that a call costs no query; refreshed
 * as the signing secrets are (signing.ts): once the set is `refreshMs` old, one aggregate says
 * whether any secret was set or deleted, and only then are they read again. A name the set lacks
 * (a secret set a moment ago) makes the node look again at once, at most once a second. A reload
 * that fails keeps the last set. Values never reach a log: warnings name secrets and keys only.
 */
export class SecretValueCache implements SecretValues {
  private snapshot: Snapshot | undefined;
  private loading: Promise<Snapshot> | undefined;
  private lastMissCheck = -Infinity;
  private readonly now: () => number;

  constructor(private readonly db: Queryable, private readonly options: SecretValueCacheOptions) {
    if (!Number.isInteger(options.refreshMs) || options.refreshMs < 1) throw new TypeError(`refreshMs must be a positive whole number of ms, got ${options.refreshMs}`);
    this.now = options.now ?? Date.now;
  }

  async valuesFor(tenantId: string, names: readonly string[]): Promise<{ values: Map<string, string> } | { problem: string }> {
    let snapshot = await this.current();
    if (names.some((name) => !snapshot.entries.has(keyOf(tenantId, name))) && this.now() - this.lastMissCheck >= MISS_RECHECK_MS) {
      this.lastMissCheck = this.now();
      snapshot = await this.reload().catch(() => snapshot);
    }
    const values = new Map<string, string>();
    for (const name of names) {
      const entry = snapshot.entries.get(keyOf(tenantId, name));
      if (!entry) return { problem: `secret "${name}" does not exist in the endpoint's tenant (deleted, or not set yet)` };
      if ('problem' in entry) return { problem: entry.problem };
      values.set(name, entry.value);
    }
    return { values };
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
      const version = await secretsVersion(this.db);
      if (this.snapshot?.version === version) {
        this.snapshot.loadedAt = startedAt;
        return this.snapshot;
      }
      const keys = keysOf(this.options.keyring);
      const entries = new Map<string, Entry>();
      const unreadable: string[] = [];
      for (const row of await allSealedSecrets(this.db)) {
        try {
          entries.set(keyOf(row.tenantId, row.name), { value: openSecret(keys, row.tenantId, row.name, row) });
        } catch (error) {
          entries.set(keyOf(row.tenantId, row.name), { problem: (error as Error).message });
          unreadable.push((error as Error).message);
        }
      }
      if (unreadable.length > 0) this.options.log?.warn(`${unreadable.length} secret(s) cannot be decrypted by this node; calls that use them fail (secret_missing)`, { first: unreadable[0] });
      this.snapshot = { loadedAt: startedAt, version, entries };
      return this.snapshot;
    } catch (error) {
      this.options.log?.warn(this.snapshot ? 'could not reload secrets; using the last loaded set' : 'could not load secrets', { error: (error as Error).message });
      throw error;
    }
  }
}
