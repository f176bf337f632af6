import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { invalidConfig, SECRETS_KEY_BYTES } from '@tickwise/platform';

export const DEV_SECRETS_KEY_FILE = 'secrets.key';

/**
 * The secrets key of `tickwise dev`: TICKWISE_SECRETS_KEY(_FILE) when the environment gives one, else
 * `<data dir>/secrets.key`, made on the first start (32 random bytes, base64, mode 0600) and kept,
 * so the secrets stored in the embedded database open at every start. Returns the environment the
 * node and the gateway read their settings from, and a line saying where the key is.
 */
export function devSecretsKey(dataDir: string, env: NodeJS.ProcessEnv): { env: NodeJS.ProcessEnv; note: string } {
  if (env.TICKWISE_SECRETS_KEY || env.TICKWISE_SECRETS_KEY_FILE) return { env, note: `secrets key from ${env.TICKWISE_SECRETS_KEY ? 'TICKWISE_SECRETS_KEY' : `TICKWISE_SECRETS_KEY_FILE (${env.TICKWISE_SECRETS_KEY_FILE})`}` };
  const path = join(dataDir, DEV_SECRETS_KEY_FILE);
  let made = true;
  try {
    mkdirSync(dataDir, { recursive: true });
    // "wx": never overwrite a key an earlier start made; the secrets it sealed would no longer open.
    writeFileSync(path, `${randomBytes(SECRETS_KEY_BYTES).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(path, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw invalidConfig(`cannot make the secrets key file ${path}: ${(error as Error).message}; set TICKWISE_DATA_DIR to a folder this user can write, or TICKWISE_SECRETS_KEY_FILE`);
    made = false;
  }
  return { env: { ...env, TICKWISE_SECRETS_KEY_FILE: path }, note: `secrets key ${made ? 'made' : 'kept'} in ${path} (mode 0600; the secrets stored here open only with it)` };
}
