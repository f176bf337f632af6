import {
  allSealedSecrets,
  countSecrets,
  deleteSecretRow,
  endpointsUsingSecret,
  existingSecretNames,
  inTransaction,
  insertSecret,
  listSecretRows,
  lockSecret,
  secretsByKey,
  updateSecret,
  withRetry,
  type Pool,
  type Queryable,
  type SecretRow,
} from '@tickwise/db';
import { refFieldPath, SECRET_NAME, SECRET_NAME_RULE, secretRefsOf } from '@tickwise/machines';
import { invalidConfig, keysOf, openSecret, requireSecretsKey, sealSecret, SECRETS_KEY_VARIABLE, SECRETS_OLD_KEY_VARIABLE, TickwiseError, type FieldViolation, type SecretsKeyring } from '@tickwise/platform';

export type { SecretRow } from '@tickwise/db';

/** A value is one line of text of at most this many bytes (UTF-8). */
export const SECRET_VALUE_MAX_BYTES = 8_192;
/** Secrets a tenant may hold. */
export const SECRETS_PER_TENANT = 1_000;
/** Endpoints named when a delete is refused because they use the secret. */
const USERS_SHOWN = 5;

/** The name checked: invalid_argument on `field` otherwise. Pure. */
export function checkSecretName(name: string, field = 'name'): string {
  if (!SECRET_NAME.test(name)) throw TickwiseError.invalid([{ field, reason: `must be ${SECRET_NAME_RULE}, got "${name.slice(0, 80)}"` }]);
  return name;
}

/**
 * The value checked, never echoed: 1 to 8,192 bytes, and one line (it may stand in a header, where a
 * line break would end it). Pure.
 */
export function checkSecretValue(value: string, field = 'value'): string {
  const bytes = Buffer.byteLength(value, 'utf8');
  const reason =
    value === ''
      ? 'is required'
      : bytes > SECRET_VALUE_MAX_BYTES
        ? `must be at most ${SECRET_VALUE_MAX_BYTES} bytes (UTF-8), got ${bytes}`
        : /[\r\n\0]/.test(value)
          ? 'must be one line: no line break or NUL character (a value may stand in a header)'
          : undefined;
  if (reason) throw TickwiseError.invalid([{ field, reason }]);
  return value;
}

/**
 * Sets a secret of the tenant, creating it or replacing its value, encrypted with the current key.
 * Scheduler nodes use the new value within their refresh interval (TICKWISE_SECRETS_REFRESH).
 */
export async function setSecret(pool: Pool, keyring: SecretsKeyring, tenantId: string, name: string, value: string): Promise<{ secret: SecretRow; created: boolean }> {
  checkSecretName(name);
  checkSecretValue(value);
  const key = keyring.current;
  if (!key) throw new TickwiseError('failed_precondition', `secrets cannot be set here: this server has no ${SECRETS_KEY_VARIABLE} to encrypt them with (its operator sets it)`, { reason: 'secrets_key_missing' });
  const sealed = sealSecret(key, tenantId, name, value);
  return withRetry(() =>
    inTransaction(pool, async (client) => {
      if (await lockSecret(client, tenantId, name)) return { secret: (await updateSecret(client, tenantId, name, sealed, { touch: true }))!, created: false };
      if ((await countSecrets(client, tenantId)) >= SECRETS_PER_TENANT) throw new TickwiseError('resource_exhausted', `a tenant may have at most ${SECRETS_PER_TENANT} secrets`);
      const inserted = await insertSecret(client, tenantId, name, sealed);
      // Another writer created it meanwhile: this value is the later one.
      if (!inserted) return { secret: (await updateSecret(client, tenantId, name, sealed, { touch: true }))!, created: false };
      return { secret: inserted, created: true };
    }),
  );
}

/** The tenant's secrets by name, with when each was created and last set; never a value. */
export function listSecrets(pool: Pool, tenantId: string): Promise<SecretRow[]> {
  return listSecretRows(pool, tenantId);
}

/** Deletes a secret; refused (failed_precondition) while a live endpoint of the tenant references it. */
export async function deleteSecret(pool: Pool, tenantId: string, name: string): Promise<void> {
  checkSecretName(name);
  await withRetry(() =>
    inTransaction(pool, async (client) => {
      if (!(await lockSecret(client, tenantId, name))) throw new TickwiseError('not_found', `secret "${name}" does not exist`);
      const users = await endpointsUsingSecret(client, tenantId, name, USERS_SHOWN + 1);
      if (users.length > 0) {
        const shown = users.slice(0, USERS_SHOWN).join(', ') + (users.length > USERS_SHOWN ? ' and more' : '');
        throw new TickwiseError('failed_precondition', `secret "${name}" is used by ${users.length === 1 ? 'endpoint' : 'endpoints'} ${shown}: remove {{secrets.${name}}} from ${users.length === 1 ? 'it' : 'them'} first`, { reason: 'secret_in_use' });
      }
      await deleteSecretRow(client, tenantId, name);
    }),
  );
}

/**
 * Refuses endpoints that reference secrets the tenant does not have: one invalid_argument naming
 * each field and name (`<path>.headers["Authorization"]`). The secrets found stay locked against
 * deletion until the caller's transaction ends.
 */
export async function checkSecretRefs(db: Queryable, tenantId: string, endpoints: readonly { path: string; spec: { url: string; headers?: Record<string, string>; body?: unknown } }[]): Promise<void> {
  const refs = endpoints.flatMap(({ path, spec }) => secretRefsOf(spec).map((ref) => ({ field: `${path ? `${path}.` : ''}${refFieldPath(ref.path)}`, name: ref.name })));
  if (refs.length === 0) return;
  const existing = await existingSecretNames(db, tenantId, refs.map((ref) => ref.name));
  const violations: FieldViolation[] = [];
  const seen = new Set<string>();
  for (const { field, name } of refs) {
    if (existing.has(name) || seen.has(`${field}\0${name}`)) continue;
    seen.add(`${field}\0${name}`);
    violations.push({ field, reason: `secret "${name}" does not exist in this tenant: set it first (tickwise secrets set ${name})` });
  }
  if (violations.length > 0) throw TickwiseError.invalid(violations, 'secret_not_found');
}

function describeKeys(keyring: SecretsKeyring): string {
  const held = [keyring.current && `${SECRETS_KEY_VARIABLE} (key ${keyring.current.id})`, keyring.previous && `${SECRETS_OLD_KEY_VARIABLE} (key ${keyring.previous.id})`].filter(Boolean);
  return held.length === 0 ? 'no key is set' : `this process holds ${held.join(' and ')}`;
}

/**
 * What a process checks at start: every stored secret is encrypted with a key it holds. A scheduler
 * node (`decrypts`) must have a key as soon as one secret exists; a gateway may run without one (it
 * then refuses to set secrets). Throws invalid_config naming the variable and the key ids.
 */
export async function checkSecretsKeys(db: Queryable, keyring: SecretsKeyring, options: { decrypts: boolean }): Promise<{ secrets: number }> {
  const byKey = await secretsByKey(db);
  const secrets = [...byKey.values()].reduce((sum, count) => sum + count, 0);
  if (secrets === 0) return { secrets };
  if (!keyring.current) {
    if (options.decrypts) requireSecretsKey(keyring, `the database holds ${secrets} secret${secrets === 1 ? '' : 's'} that calls use, and a scheduler node decrypts them`);
    return { secrets };
  }
  const held = new Set(keysOf(keyring).map((key) => key.id));
  const unknown = [...byKey].filter(([keyId]) => !held.has(keyId));
  if (unknown.length > 0) {
    const count = unknown.reduce((sum, [, each]) => sum + each, 0);
    throw invalidConfig(
      `${count} secret${count === 1 ? ' is' : 's are'} encrypted with key ${unknown.map(([keyId]) => keyId).join(', ')}, and ${describeKeys(keyring)}: give this process the key they were written with (as ${SECRETS_OLD_KEY_VARIABLE} during a rotation), or re-encrypt them with "tickwise secrets rotate-key"`,
      'secrets_key_mismatch',
    );
  }
  return { secrets };
}

/**
 * Re-encrypts every secret with the current key (TICKWISE_SECRETS_KEY), opening each with the key it
 * names (the current one or TICKWISE_SECRETS_OLD_KEY), in one transaction: all or none. Values and
 * their `updated_at` stay; only ciphertexts change. A secret under a key this process lacks stops it
 * before anything is written (invalid_config naming the key).
 */
export async function rotateSecretsKey(pool: Pool, keyring: SecretsKeyring): Promise<{ reencrypted: number; unchanged: number; keyId: string }> {
  const key = requireSecretsKey(keyring, 'the secrets are re-encrypted with it (the new key; the old one goes in TICKWISE_SECRETS_OLD_KEY)');
  return withRetry(() =>
    inTransaction(pool, async (client) => {
      const rows = await allSealedSecrets(client, { lock: true });
      await checkSecretsKeys(client, keyring, { decrypts: true });
      const stale = rows.filter((row) => row.keyId !== key.id);
      for (const row of stale) {
        const value = openSecret(keysOf(keyring), row.tenantId, row.name, row);
        await updateSecret(client, row.tenantId, row.name, sealSecret(key, row.tenantId, row.name, value), { touch: false });
      }
      return { reencrypted: stale.length, unchanged: rows.length - stale.length, keyId: key.id };
    }),
  );
}
