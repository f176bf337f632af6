import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { invalidConfig } from './errors.ts';

/**
 * The key that encrypts tenants' secrets at rest (AES-256-GCM, see secret-box.ts), and how a process
 * reads it: TICKWISE_SECRETS_KEY (the base64 of 32 bytes) or TICKWISE_SECRETS_KEY_FILE (a file
 * holding that text), and during a key rotation the key being replaced, TICKWISE_SECRETS_OLD_KEY(_FILE).
 * A key is never printed: its JSON and `inspect` forms show only its id, so a config object that
 * carries it can be logged.
 */

export const SECRETS_KEY_BYTES = 32;
export const SECRETS_KEY_VARIABLE = 'TICKWISE_SECRETS_KEY';
export const SECRETS_OLD_KEY_VARIABLE = 'TICKWISE_SECRETS_OLD_KEY';
const HOW_TO_MAKE = 'make one with: openssl rand -base64 32';

export class SecretsKey {
  readonly #bytes: Buffer;
  /**
   * Names the key in every ciphertext it made (16 hex digits of its SHA-256): a process tells which
   * key a value needs, and says so, without the key ever being shown.
   */
  readonly id: string;

  constructor(bytes: Uint8Array) {
    if (bytes.length !== SECRETS_KEY_BYTES) throw new TypeError(`a secrets key is ${SECRETS_KEY_BYTES} bytes, got ${bytes.length}`);
    this.#bytes = Buffer.from(bytes);
    this.id = createHash('sha256').update(this.#bytes).digest('hex').slice(0, 16);
  }

  /** The key bytes, for the cipher only. */
  get bytes(): Buffer {
    return this.#bytes;
  }

  toJSON(): { id: string } {
    return { id: this.id };
  }

  toString(): string {
    return `SecretsKey(${this.id})`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

/** The keys a process holds: the one it encrypts with, and during a rotation the one being replaced. */
export interface SecretsKeyring {
  current: SecretsKey | null;
  /** TICKWISE_SECRETS_OLD_KEY: still decrypts, never encrypts. */
  previous: SecretsKey | null;
}

export const NO_SECRETS_KEYS: SecretsKeyring = Object.freeze({ current: null, previous: null });

/** Every key of a keyring, the current one first. Pure. */
export function keysOf(keyring: SecretsKeyring): SecretsKey[] {
  return [keyring.current, keyring.previous].filter((key): key is SecretsKey => key !== null);
}

/**
 * The key in `text` (base64 of 32 bytes; surrounding white space ignored), or invalid_config naming
 * `source`. Never echoes the text: a mistyped key is still a secret. Pure.
 */
export function parseSecretsKey(text: string, source: string): SecretsKey {
  const trimmed = text.trim();
  if (trimmed === '') throw invalidConfig(`${source} is empty: it must be the base64 of ${SECRETS_KEY_BYTES} random bytes (${HOW_TO_MAKE})`, 'secrets_key_invalid');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) || trimmed.length % 4 !== 0) {
    throw invalidConfig(`${source} is not base64: it must be the base64 of ${SECRETS_KEY_BYTES} random bytes (${HOW_TO_MAKE})`, 'secrets_key_invalid');
  }
  const bytes = Buffer.from(trimmed, 'base64');
  if (bytes.length !== SECRETS_KEY_BYTES) {
    throw invalidConfig(`${source} must be the base64 of ${SECRETS_KEY_BYTES} bytes, it holds ${bytes.length} (${HOW_TO_MAKE})`, 'secrets_key_invalid');
  }
  return new SecretsKey(bytes);
}

/**
 * One key from `<name>` or `<name>_FILE` (never both); undefined when neither is set. A file is
 * read once, here: a key file that cannot be read stops the process at start, naming the path.
 */
export function secretsKeyFromEnv(env: NodeJS.ProcessEnv, name: string): SecretsKey | undefined {
  const text = env[name] === '' ? undefined : env[name];
  const file = env[`${name}_FILE`] === '' ? undefined : env[`${name}_FILE`];
  if (text !== undefined && file !== undefined) throw invalidConfig(`${name} and ${name}_FILE are both set: set one of them`, 'secrets_key_invalid');
  if (text !== undefined) return parseSecretsKey(text, name);
  if (file === undefined) return undefined;
  let content: string;
  try {
    content = readFileSync(file, 'utf8');
  } catch (error) {
    throw invalidConfig(`${name}_FILE: cannot read "${file}": ${(error as Error).message}`, 'secrets_key_unreadable');
  }
  return parseSecretsKey(content, `${name}_FILE ("${file}")`);
}

/** TICKWISE_SECRETS_KEY(_FILE) and TICKWISE_SECRETS_OLD_KEY(_FILE); the old key alone is refused. */
export function secretsKeyringFromEnv(env: NodeJS.ProcessEnv): SecretsKeyring {
  const current = secretsKeyFromEnv(env, SECRETS_KEY_VARIABLE) ?? null;
  const previous = secretsKeyFromEnv(env, SECRETS_OLD_KEY_VARIABLE) ?? null;
  if (previous && !current) {
    throw invalidConfig(`${SECRETS_OLD_KEY_VARIABLE} is set without ${SECRETS_KEY_VARIABLE}: during a rotation give both, the new key as ${SECRETS_KEY_VARIABLE}`, 'secrets_key_missing');
  }
  return { current, previous: previous && previous.id !== current?.id ? previous : null };
}

/** The current key, or invalid_config naming the variable and saying why this process needs it. */
export function requireSecretsKey(keyring: SecretsKeyring, why: string): SecretsKey {
  if (keyring.current) return keyring.current;
  throw invalidConfig(
    `${SECRETS_KEY_VARIABLE} is not set: ${why}. Set it to the base64 of ${SECRETS_KEY_BYTES} random bytes (${HOW_TO_MAKE}), or ${SECRETS_KEY_VARIABLE}_FILE to a file holding it`,
    'secrets_key_missing',
  );
}
