import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { apiKeyByPrefix, insertApiKey, newId, touchApiKey, type ApiKeyRole, type ApiKeyRow, type Queryable } from '@tickwise/db';
import { TickwiseError, type Logger } from '@tickwise/platform';

/** `tw_` + 12 hex characters (the lookup prefix) + `_` + 43 base64url characters (32 random bytes). */
const KEY_FORMAT = /^tw_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

export interface NewApiKey {
  /** The whole key: shown once, never stored. */
  key: string;
  prefix: string;
  secretSha256: string;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A fresh random key and what is stored of it. */
export function generateApiKey(): NewApiKey {
  const prefix = randomBytes(6).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { key: `tw_${prefix}_${secret}`, prefix, secretSha256: sha256Hex(secret) };
}

/** The prefix and secret of a well-formed key; null otherwise. Pure. */
export function parseApiKey(key: string): { prefix: string; secret: string } | null {
  const match = KEY_FORMAT.exec(key);
  return match ? { prefix: match[1]!, secret: match[2]! } : null;
}

/** Compares the secret's hash with the stored one in constant time. Pure. */
export function secretMatches(secret: string, storedSha256: string): boolean {
  const given = Buffer.from(sha256Hex(secret), 'hex');
  const stored = Buffer.from(storedSha256, 'hex');
  return given.length === stored.length && timingSafeEqual(given, stored);
}

export const API_KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}$/;

/** Creates a key for a tenant; the returned `key` is the only time it is ever seen. */
export async function createApiKey(db: Queryable, input: { tenantId: string; role: ApiKeyRole; name: string }): Promise<{ key: string; row: ApiKeyRow }> {
  const generated = generateApiKey();
  const row = await insertApiKey(db, { id: newId(), tenantId: input.tenantId, role: input.role, name: input.name, prefix: generated.prefix, secretSha256: generated.secretSha256 });
  return { key: generated.key, row };
}

/** Who is calling: the tenant and role come from the key, never from the request. */
export interface Caller {
  keyId: string;
  /** The key's name: who made a change, in the audit trail. */
  keyName: string;
  tenantId: string;
  role: ApiKeyRole;
}

/** A use is written to last_used_at at most this often per key. */
const TOUCH_EVERY_MS = 60_000;

/**
 * Resolves an `Authorization` header value to the caller. Every failure is UNAUTHENTICATED with the
 * same words for an unknown key, a wrong secret and a revoked key, so a caller learns nothing from
 * which one it was.
 */
export async function authenticate(db: Queryable, header: string | null, log: Logger): Promise<Caller> {
  if (header === null || header === '') throw new TickwiseError('unauthenticated', 'missing API key: send "Authorization: Bearer <key>"', { reason: 'missing_key' });
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  if (!match) throw new TickwiseError('unauthenticated', 'the Authorization header must be "Bearer <key>"', { reason: 'malformed_key' });
  const parsed = parseApiKey(match[1]!);
  if (!parsed) throw new TickwiseError('unauthenticated', 'malformed API key (expected tw_<prefix>_<secret>)', { reason: 'malformed_key' });
  const row = await apiKeyByPrefix(db, parsed.prefix);
  // Hash even when there is no row, so an unknown prefix costs the same time as a wrong secret.
  const matches = secretMatches(parsed.secret, row?.secretSha256 ?? '0'.repeat(64));
  // reason invalid_key: the key was looked up and refused (what the gateway's negative cache keeps).
  if (!row || !matches || row.revokedAt !== null) throw new TickwiseError('unauthenticated', 'invalid or revoked API key', { reason: 'invalid_key' });
  touchApiKey(db, row.id, TOUCH_EVERY_MS).catch((error: Error) => log.debug('could not record an API key use', { key: row.id, error: error.message }));
  return { keyId: row.id, keyName: row.name, tenantId: row.tenantId, role: row.role };
}
