import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { secretsKeyringFromEnv } from '@tickwise/platform';
import { devSecretsKey } from '../dev/secrets-key.ts';

describe("tickwise dev's secrets key", () => {
  it('is made once in the data folder (mode 0600) and kept at every later start', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'tw-dev-key-')), 'data');
    const first = devSecretsKey(dir, {});
    const path = join(dir, 'secrets.key');
    expect(first.env.TICKWISE_SECRETS_KEY_FILE).toBe(path);
    expect(first.note).toBe(`secrets key made in ${path} (mode 0600; the secrets stored here open only with it)`);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const text = readFileSync(path, 'utf8');
    const second = devSecretsKey(dir, {});
    expect(second.note).toMatch(/^secrets key kept in /);
    expect(readFileSync(path, 'utf8')).toBe(text);
    expect(secretsKeyringFromEnv(second.env).current!.id).toBe(secretsKeyringFromEnv(first.env).current!.id);
  });

  it('leaves a key the environment gives alone', () => {
    const given = { TICKWISE_SECRETS_KEY: Buffer.alloc(32, 1).toString('base64') };
    expect(devSecretsKey('/nonexistent', given)).toEqual({ env: given, note: 'secrets key from TICKWISE_SECRETS_KEY' });
  });
});
