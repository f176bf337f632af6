import { randomBytes } from 'node:crypto';
import { isUuid, TickwiseError, type ErrorCode } from '@tickwise/platform';
import { inTransaction, insertSigningSecret, listSigningSecretRows, newId, retireSigningSecrets, revokeSigningSecretRow, usableSigningSecrets, withRetry, type Pool, type SecretOwner, type SigningSecretRow } from '@tickwise/db';

export type { SecretOwner, SigningSecretRow } from '@tickwise/db';

/** How secrets are shown (Standard Webhooks): `whsec_` and the base64 of the key bytes. */
export const SIGNING_SECRET_PREFIX = 'whsec_';
export const MIN_SECRET_BYTES = 24;
export const MAX_SECRET_BYTES = 64;
export const DEFAULT_SECRET_BYTES = 32;
/** How long a rotated-out secret keeps signing next to the new one. */
export const DEFAULT_ROTATION_GRACE_MS = 24 * 3_600_000;
export const MAX_ROTATION_GRACE_MS = 30 * 86_400_000;
/** Every usable secret adds a signature to every call: keep the header short. */
export const MAX_USABLE_SECRETS = 10;

/** The codes of what signing refuses; each old name lives on as the error's `reason`. */
const SIGNING_ERRORS = {
  invalid_owner: 'invalid_argument',
  invalid_option: 'invalid_argument',
  invalid_id: 'invalid_argument',
  invalid_secret: 'invalid_argument',
  endpoint_not_found: 'not_found',
  secret_not_found: 'not_found',
  too_many_secrets: 'resource_exhausted',
} as const satisfies Record<string, ErrorCode>;

function signingError(reason: keyof typeof SIGNING_ERRORS, message: string): TickwiseError {
  return new TickwiseError(SIGNING_ERRORS[reason], message, { reason });
}

export interface AddSigningSecretOptions {
  /** Retire the owner's usable secrets: they keep signing for `graceMs`, then stop. */
  rotate?: boolean;
  /** With `rotate`: how long the old secrets stay valid (default 24 h, 0 to 30 days). */
  graceMs?: number;
  /** Key length in bytes, 24 to 64 (default 32). */
  bytes?: number;
}

export interface NewSigningSecret {
  id: string;
  owner: SecretOwner;
  /** `whsec_<base64>`: shown this once; only the key bytes are stored. */
  secret: string;
  createdAt: Date;
  /** The secrets this rotation retired, with the time each stops signing. */
  retired: SigningSecretRow[];
}

/** `whsec_<base64>` of the key bytes. Pure. */
export function formatSigningSecret(key: Uint8Array): string {
  return `${SIGNING_SECRET_PREFIX}${Buffer.from(key).toString('base64')}`;
}

/** The key bytes of a `whsec_<base64>` secret (the prefix may be left out). Pure; throws `invalid_secret`. */
export function parseSigningSecret(text: string): Buffer {
  const body = text.startsWith(SIGNING_SECRET_PREFIX) ? text.slice(SIGNING_SECRET_PREFIX.length) : text;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 !== 0) throw signingError('invalid_secret', 'signing secret must be "whsec_" followed by base64');
  const key = Buffer.from(body, 'base64');
  if (key.length < MIN_SECRET_BYTES || key.length > MAX_SECRET_BYTES) {
    throw signingError('invalid_secret', `signing secret must hold ${MIN_SECRET_BYTES} to ${MAX_SECRET_BYTES} bytes, got ${key.length}`);
  }
  return key;
}

function checkOwner(owner: SecretOwner): SecretOwner {
  const given = [owner.endpointId, owner.tenantId].filter((id) => id !== undefined);
  if (given.length !== 1) throw signingError('invalid_owner', 'a signing secret belongs to exactly one of an endpoint (endpointId) or a tenant (tenantId)');
  const [id] = given as [string];
  if (!isUuid(id)) throw signingError('invalid_owner', `${owner.endpointId !== undefined ? 'endpointId' : 'tenantId'} must be a UUID, got "${id}"`);
  return owner.endpointId !== undefined ? { endpointId: id.toLowerCase() } : { tenantId: id.toLowerCase() };
}

function checkWholeNumber(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw signingError('invalid_option', `${name} must be a whole number from ${min} to ${max}, got ${String(value)}`);
  return value;
}

/**
 * Creates a signing secret for an endpoint or a tenant and returns it, once, as `whsec_<base64>`.
 * Without `rotate` the owner's other secrets stay as they are (each usable secret adds a signature);
 * with it they are retired: during the grace period calls carry both signatures, so receivers can
 * switch to the new secret without losing a call. Scheduler nodes pick it up within their refresh
 * interval (TICKWISE_SIGNING_REFRESH). Endpoints must exist; tenant ids are taken as given.
 */
export async function addSigningSecret(pool: Pool, owner: SecretOwner, options: AddSigningSecretOptions = {}): Promise<NewSigningSecret> {
  const checked = checkOwner(owner);
  const bytes = checkWholeNumber('bytes', options.bytes ?? DEFAULT_SECRET_BYTES, MIN_SECRET_BYTES, MAX_SECRET_BYTES);
  const graceMs = checkWholeNumber('graceMs', options.graceMs ?? DEFAULT_ROTATION_GRACE_MS, 0, MAX_ROTATION_GRACE_MS);
  if (options.graceMs !== undefined && !options.rotate) throw signingError('invalid_option', 'graceMs applies to a rotation only (set rotate: true)');
  const key = randomBytes(bytes);
  return withRetry(() =>
    inTransaction(pool, async (client) => {
      if (checked.endpointId !== undefined) {
        const { rows } = await client.query('SELECT 1 FROM endpoints WHERE id = $1', [checked.endpointId]);
        if (rows.length === 0) throw signingError('endpoint_not_found', `endpoint ${checked.endpointId} does not exist`);
      }
      const retired = options.rotate ? await retireSigningSecrets(client, checked, graceMs) : [];
      // Retired ones still sign during their grace, so they count (a grace of 0 retires them at once).
      const signing = await usableSigningSecrets(client, checked);
      if (signing.length + 1 > MAX_USABLE_SECRETS) {
        throw signingError('too_many_secrets', `${describeOwner(checked)} already has ${signing.length} usable signing secrets (at most ${MAX_USABLE_SECRETS}); revoke one first`);
      }
      const row = await insertSigningSecret(client, { id: newId(), owner: checked, secret: key });
      return { id: row.id, owner: checked, secret: formatSigningSecret(key), createdAt: row.createdAt, retired };
    }),
  );
}

/** `addSigningSecret` with `rotate`: the new secret signs at once, the old ones for `graceMs` more (default 24 h). */
export function rotateSigningSecret(pool: Pool, owner: SecretOwner, options: Omit<AddSigningSecretOptions, 'rotate'> = {}): Promise<NewSigningSecret> {
  return addSigningSecret(pool, owner, { ...options, rotate: true });
}

/**
 * Revokes a secret: it stops signing at once (within the nodes' refresh interval). Revoking the last
 * usable secret of an owner turns signing off for it. Revoking a revoked secret changes nothing.
 */
export async function revokeSigningSecret(pool: Pool, secretId: string): Promise<SigningSecretRow> {
  if (!isUuid(secretId)) throw signingError('invalid_id', `signing secret id must be a UUID, got "${secretId}"`);
  const row = await withRetry(() => revokeSigningSecretRow(pool, secretId.toLowerCase()));
  if (!row) throw signingError('secret_not_found', `signing secret ${secretId} does not exist`);
  return row;
}

/** The owner's secrets, newest first, revoked and expired ones included; never their bytes. */
export function listSigningSecrets(pool: Pool, owner: SecretOwner): Promise<SigningSecretRow[]> {
  return listSigningSecretRows(pool, checkOwner(owner));
}

function describeOwner(owner: SecretOwner): string {
  return owner.endpointId !== undefined ? `endpoint ${owner.endpointId}` : `tenant ${owner.tenantId}`;
}
