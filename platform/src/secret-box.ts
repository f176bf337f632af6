import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { TickwiseError } from './errors.ts';
import type { SecretsKey } from './secrets-key.ts';

/**
 * A tenant's secret value as stored: AES-256-GCM under a key named by its id, with a random 12-byte
 * nonce per value and the tenant and the secret's name as associated data, so a ciphertext copied
 * to another name or tenant does not open.
 */
export interface SealedSecret {
  keyId: string;
  nonce: Buffer;
  /** The ciphertext followed by the 16-byte GCM tag. */
  ciphertext: Buffer;
}

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

function associatedData(tenantId: string, name: string): Buffer {
  return Buffer.from(`tickwise.secret.v1\0${tenantId.toLowerCase()}\0${name}`, 'utf8');
}

/** Encrypts `value` for the secret `name` of `tenantId`. */
export function sealSecret(key: SecretsKey, tenantId: string, name: string, value: string): SealedSecret {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key.bytes, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(associatedData(tenantId, name));
  const ciphertext = Buffer.concat([cipher.update(value, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return { keyId: key.id, nonce, ciphertext };
}

/**
 * The value of a sealed secret, with whichever of `keys` made it. Throws `failed_precondition` with
 * reason `secrets_key_missing` when none of them is the key it names (the message says which key it
 * needs), `secret_unreadable` when the ciphertext does not open (altered, or moved to another name
 * or tenant). Pure; executes nothing.
 */
export function openSecret(keys: readonly SecretsKey[], tenantId: string, name: string, sealed: SealedSecret): string {
  const key = keys.find((each) => each.id === sealed.keyId);
  if (!key) {
    const held = keys.length === 0 ? 'no secrets key is set (TICKWISE_SECRETS_KEY)' : `this process holds key${keys.length > 1 ? 's' : ''} ${keys.map((each) => each.id).join(', ')}`;
    throw new TickwiseError('failed_precondition', `secret "${name}" is encrypted with key ${sealed.keyId}; ${held}`, { reason: 'secrets_key_missing' });
  }
  if (sealed.nonce.length !== NONCE_BYTES || sealed.ciphertext.length < TAG_BYTES) {
    throw new TickwiseError('failed_precondition', `secret "${name}" is not a ciphertext Tickwise made`, { reason: 'secret_unreadable' });
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', key.bytes, sealed.nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(associatedData(tenantId, name));
    decipher.setAuthTag(sealed.ciphertext.subarray(sealed.ciphertext.length - TAG_BYTES));
    return Buffer.concat([decipher.update(sealed.ciphertext.subarray(0, sealed.ciphertext.length - TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    throw new TickwiseError('failed_precondition', `secret "${name}" does not decrypt with key ${key.id}: it was altered or moved from another name or tenant`, { reason: 'secret_unreadable' });
  }
}
