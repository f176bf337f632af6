import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { openSecret, sealSecret } from '../src/secret-box.ts';
import { parseSecretsKey, requireSecretsKey, SecretsKey, secretsKeyringFromEnv } from '../src/secrets-key.ts';
import { TickwiseError } from '../src/errors.ts';

const base64Key = () => randomBytes(32).toString('base64');
const TENANT = '00000000-0000-7000-8000-000000000000';
const OTHER_TENANT = '00000000-0000-7000-8000-000000000001';

function configError(run: () => unknown): TickwiseError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(TickwiseError);
    expect((error as TickwiseError).code).toBe('invalid_config');
    return error as TickwiseError;
  }
  throw new Error('expected an invalid_config error');
}

describe('the secrets key settings', () => {
  it('reads TICKWISE_SECRETS_KEY or TICKWISE_SECRETS_KEY_FILE (white space around the text ignored)', () => {
    const text = base64Key();
    const dir = mkdtempSync(join(tmpdir(), 'tw-key-'));
    writeFileSync(join(dir, 'key'), `${text}\n`);
    const fromText = secretsKeyringFromEnv({ TICKWISE_SECRETS_KEY: text });
    const fromFile = secretsKeyringFromEnv({ TICKWISE_SECRETS_KEY_FILE: join(dir, 'key') });
    expect(fromText.current!.id).toMatch(/^[0-9a-f]{16}$/);
    expect(fromFile.current!.id).toBe(fromText.current!.id);
    expect(fromText.previous).toBeNull();
    expect(secretsKeyringFromEnv({})).toEqual({ current: null, previous: null });
  });

  it('says exactly what is wrong, naming the variable and never echoing the value', () => {
    const short = randomBytes(16).toString('base64');
    const notBase64 = 'this is not base64 but a passphrase!';
    const cases: [NodeJS.ProcessEnv, string][] = [
      [{ TICKWISE_SECRETS_KEY: notBase64 }, 'TICKWISE_SECRETS_KEY is not base64: it must be the base64 of 32 random bytes (make one with: openssl rand -base64 32)'],
      [{ TICKWISE_SECRETS_KEY: short }, 'TICKWISE_SECRETS_KEY must be the base64 of 32 bytes, it holds 16 (make one with: openssl rand -base64 32)'],
      [{ TICKWISE_SECRETS_KEY: base64Key(), TICKWISE_SECRETS_KEY_FILE: '/x' }, 'TICKWISE_SECRETS_KEY and TICKWISE_SECRETS_KEY_FILE are both set: set one of them'],
      [{ TICKWISE_SECRETS_OLD_KEY: base64Key() }, 'TICKWISE_SECRETS_OLD_KEY is set without TICKWISE_SECRETS_KEY: during a rotation give both, the new key as TICKWISE_SECRETS_KEY'],
    ];
    for (const [env, message] of cases) {
      const error = configError(() => secretsKeyringFromEnv(env));
      expect(error.message).toBe(message);
      expect(error.message).not.toContain(notBase64);
      expect(error.message).not.toContain(short);
    }
    const missing = configError(() => secretsKeyringFromEnv({ TICKWISE_SECRETS_KEY_FILE: '/nonexistent/secrets.key' }));
    expect(missing.message).toMatch(/^TICKWISE_SECRETS_KEY_FILE: cannot read "\/nonexistent\/secrets.key": ENOENT/);
    const dir = mkdtempSync(join(tmpdir(), 'tw-key-'));
    writeFileSync(join(dir, 'bad'), short);
    expect(configError(() => secretsKeyringFromEnv({ TICKWISE_SECRETS_OLD_KEY_FILE: join(dir, 'bad'), TICKWISE_SECRETS_KEY: base64Key() })).message).toBe(
      `TICKWISE_SECRETS_OLD_KEY_FILE ("${join(dir, 'bad')}") must be the base64 of 32 bytes, it holds 16 (make one with: openssl rand -base64 32)`,
    );
    expect(configError(() => requireSecretsKey({ current: null, previous: null }, 'the database holds 2 secrets that calls use')).message).toBe(
      'TICKWISE_SECRETS_KEY is not set: the database holds 2 secrets that calls use. Set it to the base64 of 32 random bytes (make one with: openssl rand -base64 32), or TICKWISE_SECRETS_KEY_FILE to a file holding it',
    );
  });

  it('never shows the key bytes in JSON, strings or inspect', () => {
    const text = base64Key();
    const key = parseSecretsKey(text, 'TICKWISE_SECRETS_KEY');
    const shown = [JSON.stringify({ key }), String(key), inspect({ key }), inspect(key, { showHidden: true })].join('\n');
    expect(shown).not.toContain(text);
    expect(shown).not.toContain(key.bytes.toString('hex'));
    expect(shown).toContain(key.id);
  });
});

describe('sealing a secret (AES-256-GCM)', () => {
  const key = new SecretsKey(randomBytes(32));
  const other = new SecretsKey(randomBytes(32));

  it('opens what it sealed, with a fresh nonce each time, and names the key it used', () => {
    const first = sealSecret(key, TENANT, 'TOKEN', 's3cr3t ✓');
    const second = sealSecret(key, TENANT, 'TOKEN', 's3cr3t ✓');
    expect(first.keyId).toBe(key.id);
    expect(first.nonce).toHaveLength(12);
    expect(first.nonce.equals(second.nonce)).toBe(false);
    expect(first.ciphertext.includes(Buffer.from('s3cr3t'))).toBe(false);
    expect(openSecret([other, key], TENANT, 'TOKEN', first)).toBe('s3cr3t ✓');
  });

  it('refuses a ciphertext moved to another name or tenant, altered, or made with a key it does not hold', () => {
    const sealed = sealSecret(key, TENANT, 'TOKEN', 'value');
    const reason = (run: () => unknown) => {
      try {
        run();
      } catch (error) {
        return `${(error as TickwiseError).reason}: ${(error as Error).message}`;
      }
      return 'opened';
    };
    expect(reason(() => openSecret([key], TENANT, 'OTHER', sealed))).toMatch(/^secret_unreadable: secret "OTHER" does not decrypt with key/);
    expect(reason(() => openSecret([key], OTHER_TENANT, 'TOKEN', sealed))).toMatch(/^secret_unreadable/);
    const altered = { ...sealed, ciphertext: Buffer.from(sealed.ciphertext) };
    altered.ciphertext[0]! ^= 1;
    expect(reason(() => openSecret([key], TENANT, 'TOKEN', altered))).toMatch(/^secret_unreadable/);
    expect(reason(() => openSecret([other], TENANT, 'TOKEN', sealed))).toBe(`secrets_key_missing: secret "TOKEN" is encrypted with key ${key.id}; this process holds key ${other.id}`);
    expect(reason(() => openSecret([], TENANT, 'TOKEN', sealed))).toBe(`secrets_key_missing: secret "TOKEN" is encrypted with key ${key.id}; no secrets key is set (TICKWISE_SECRETS_KEY)`);
  });
});
