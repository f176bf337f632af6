import { isIPv6 } from 'node:net';
import type { Queryable } from '@tickwise/db';
import { isTickwiseError, TickwiseError, type Logger } from '@tickwise/platform';
import { authenticate, sha256Hex, type Caller } from './api-keys.ts';
import { RetryLater } from './errors.ts';
import { gatewayMetrics } from './metrics.ts';

export interface AuthLimitSettings {
  authFailureBurst: number;
  authFailuresPerMinute: number;
  authNegativeCacheMs: number;
}

/** Most client addresses, refused keys and good keys kept in memory each; past it the oldest go. */
const MAX_ENTRIES = 10_000;
/** A key that authenticated this recently is never held back by its address's failures. */
const GOOD_FOR_MS = 10 * 60_000;

/**
 * The client an address stands for: an IPv4 address (also written IPv4-mapped), or the /64 of an
 * IPv6 one, since one host usually holds a whole /64 and could otherwise rotate addresses. Pure.
 */
export function clientOf(address: string | undefined): string {
  if (!address) return 'unknown';
  const plain = address.replace(/%.*$/, '');
  if (/^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(plain)) return plain.slice(7);
  if (!isIPv6(plain)) return plain;
  const [head = '', tail] = plain.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  // An IPv4 tail (64:ff9b::1.2.3.4) is two groups, all of them past the /64.
  const width = left.length + right.reduce((sum, group) => sum + (group.includes('.') ? 2 : 1), 0);
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - width)).fill('0'), ...right];
  return `${groups.slice(0, 4).map((group) => parseInt(group, 16).toString(16)).join(':')}::/64`;
}

/** Adds `key` as the newest entry, forgetting the oldest past MAX_ENTRIES. */
function remember<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > MAX_ENTRIES) map.delete(map.keys().next().value!);
}

/**
 * What failed authentication costs a client. Each address has a token bucket of failures (`burst`,
 * earned back at `perMinute`): a call takes a token before its key is looked up and gets it back if
 * the key works, so however many calls arrive at once, at most `burst` lookups run for keys that
 * fail; with no token left the call is answered RESOURCE_EXHAUSTED (HTTP 429) with `retry-after`,
 * without a lookup. A key that authenticated lately (by the hash of the header) is let through
 * anyway, so a client sharing an address (a NAT, a proxy) with a flood keeps working, and a refused
 * key is answered from memory for `negativeCacheMs` (the same words as a lookup). Keys that work are
 * still looked up at every call: a revocation applies at the next call, as before.
 */
export class AuthLimits {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly refused = new Map<string, number>();
  private readonly good = new Map<string, number>();
  private readonly perMs: number;

  constructor(
    private readonly settings: AuthLimitSettings,
    private readonly now: () => number = Date.now,
  ) {
    this.perMs = settings.authFailuresPerMinute / 60_000;
  }

  /** Resolves the caller, or throws UNAUTHENTICATED, or RESOURCE_EXHAUSTED (RetryLater) for an address out of failures. */
  async authenticate(db: Queryable, header: string | null, address: string | undefined, log: Logger): Promise<Caller> {
    const client = clientOf(address);
    const hash = sha256Hex(header ?? '');
    const charged = this.admit(client, hash);
    const until = this.refused.get(hash);
    if (until !== undefined && until > this.now()) {
      gatewayMetrics.authRefused.labels('cached').inc();
      throw new TickwiseError('unauthenticated', 'invalid or revoked API key', { reason: 'invalid_key' });
    }
    try {
      const caller = await authenticate(db, header, log);
      if (charged) this.refund(client);
      remember(this.good, hash, this.now());
      return caller;
    } catch (error) {
      if (!isTickwiseError(error, 'unauthenticated')) {
        // Not the key's fault (the database is away): the token goes back.
        if (charged) this.refund(client);
        throw error;
      }
      this.good.delete(hash);
      if (!charged) this.take(client);
      const lookedUp = error.reason === 'invalid_key';
      gatewayMetrics.authRefused.labels(lookedUp ? 'invalid' : 'malformed').inc();
      if (lookedUp && this.settings.authNegativeCacheMs > 0) remember(this.refused, hash, this.now() + this.settings.authNegativeCacheMs);
      throw error;
    }
  }

  /** Whether the call took a token; throws when the address has none and the key is not known good. */
  private admit(client: string, hash: string): boolean {
    const seen = this.good.get(hash);
    if (seen !== undefined && this.now() - seen < GOOD_FOR_MS) return false;
    const bucket = this.bucket(client);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return true;
    }
    gatewayMetrics.authRefused.labels('rate_limited').inc();
    const seconds = Math.max(1, Math.ceil((1 - bucket.tokens) / this.perMs / 1_000));
    throw new RetryLater(`too many failed authentications from this address; try again in ${seconds}s`, seconds, 'auth_rate_limited');
  }

  private take(client: string): void {
    const bucket = this.bucket(client);
    bucket.tokens = Math.max(0, bucket.tokens - 1);
  }

  private refund(client: string): void {
    const bucket = this.bucket(client);
    bucket.tokens += 1;
    // A full bucket is what an unknown address gets: no need to keep it.
    if (bucket.tokens >= this.settings.authFailureBurst) this.buckets.delete(client);
  }

  /** The address's bucket, refilled for the time since it was last seen. */
  private bucket(client: string): { tokens: number; at: number } {
    const now = this.now();
    const bucket = this.buckets.get(client) ?? { tokens: this.settings.authFailureBurst, at: now };
    bucket.tokens = Math.min(this.settings.authFailureBurst, bucket.tokens + (now - bucket.at) * this.perMs);
    bucket.at = now;
    remember(this.buckets, client, bucket);
    return bucket;
  }
}
