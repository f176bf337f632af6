import type { SealedSecret } from '@tickwise/platform';
import type { Queryable } from '../pool.ts';

/** A secret as listed: never its value, nor its ciphertext. */
export interface SecretRow {
  tenantId: string;
  name: string;
  keyId: string;
  createdAt: Date;
  updatedAt: Date;
}

/** A secret with its ciphertext: what a scheduler node decrypts, and a key rotation re-encrypts. */
export interface SealedSecretRow extends SealedSecret {
  tenantId: string;
  name: string;
}

interface RawRow {
  tenant_id: string;
  name: string;
  key_id: string;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = 'tenant_id, name, key_id, created_at, updated_at';

function toRow(raw: RawRow): SecretRow {
  return { tenantId: raw.tenant_id, name: raw.name, keyId: raw.key_id, createdAt: raw.created_at, updatedAt: raw.updated_at };
}

function toSealed(raw: { tenant_id: string; name: string; key_id: string; nonce: Buffer; ciphertext: Buffer }): SealedSecretRow {
  return { tenantId: raw.tenant_id, name: raw.name, keyId: raw.key_id, nonce: raw.nonce, ciphertext: raw.ciphertext };
}

/** The tenant's secrets by name. */
export async function listSecretRows(db: Queryable, tenantId: string): Promise<SecretRow[]> {
  const { rows } = await db.query<RawRow>(`SELECT ${COLUMNS} FROM secrets WHERE tenant_id = $1 ORDER BY name`, [tenantId]);
  return rows.map(toRow);
}

export async function countSecrets(db: Queryable, tenantId: string): Promise<number> {
  const { rows } = await db.query<{ count: string }>('SELECT count(*) AS count FROM secrets WHERE tenant_id = $1', [tenantId]);
  return Number(rows[0]!.count);
}

/** Locks one secret for a change (in a transaction); null when there is none of that name. */
export async function lockSecret(db: Queryable, tenantId: string, name: string): Promise<SecretRow | null> {
  const { rows } = await db.query<RawRow>(`SELECT ${COLUMNS} FROM secrets WHERE tenant_id = $1 AND name = $2 FOR UPDATE`, [tenantId, name]);
  return rows[0] ? toRow(rows[0]) : null;
}

/**
 * Which of `names` the tenant has, each locked against deletion until the transaction ends: an
 * endpoint written with a reference cannot lose its secret to a delete running at the same time.
 */
export async function existingSecretNames(db: Queryable, tenantId: string, names: readonly string[]): Promise<Set<string>> {
  if (names.length === 0) return new Set();
  const { rows } = await db.query<{ name: string }>('SELECT name FROM secrets WHERE tenant_id = $1 AND name = ANY($2::text[]) FOR SHARE', [tenantId, [...new Set(names)]]);
  return new Set(rows.map((row) => row.name));
}

/** A new secret; null when one of that name was inserted meanwhile (then update it). */
export async function insertSecret(db: Queryable, tenantId: string, name: string, sealed: SealedSecret): Promise<SecretRow | null> {
  const { rows } = await db.query<RawRow>(`INSERT INTO secrets (tenant_id, name, key_id, nonce, ciphertext) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING ${COLUMNS}`, [
    tenantId,
    name,
    sealed.keyId,
    sealed.nonce,
    sealed.ciphertext,
  ]);
  return rows[0] ? toRow(rows[0]) : null;
}

/** A new value (`touch`: it counts as set now) or, for a key rotation, the same value under another key. */
export async function updateSecret(db: Queryable, tenantId: string, name: string, sealed: SealedSecret, options: { touch: boolean }): Promise<SecretRow | null> {
  const { rows } = await db.query<RawRow>(
    `UPDATE secrets SET key_id = $3, nonce = $4, ciphertext = $5${options.touch ? ', updated_at = now()' : ''} WHERE tenant_id = $1 AND name = $2 RETURNING ${COLUMNS}`,
    [tenantId, name, sealed.keyId, sealed.nonce, sealed.ciphertext],
  );
  return rows[0] ? toRow(rows[0]) : null;
}

export async function deleteSecretRow(db: Queryable, tenantId: string, name: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM secrets WHERE tenant_id = $1 AND name = $2', [tenantId, name]);
  return (rowCount ?? 0) > 0;
}

/**
 * The tenant's live endpoints whose spec holds `{{secrets.<name>}}` (as `<job>/<endpoint>`), at most
 * `limit`. Specs keep references as written, so the text of the reference is searched for.
 */
export async function endpointsUsingSecret(db: Queryable, tenantId: string, name: string, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ job: string; endpoint: string }>(
    `SELECT j.name AS job, n.name AS endpoint
       FROM endpoint_names n JOIN endpoints e ON e.id = n.endpoint_id JOIN jobs j ON j.id = n.job_id
      WHERE n.tenant_id = $1 AND n.archived_at IS NULL AND strpos(e.spec::text, $2) > 0
      ORDER BY j.name, n.name LIMIT $3`,
    [tenantId, `{{secrets.${name}}}`, limit],
  );
  return rows.map((row) => `${row.job}/${row.endpoint}`);
}

/** Every secret with its ciphertext (`lock`: for update, in a transaction), by tenant and name. */
export async function allSealedSecrets(db: Queryable, options: { lock?: boolean } = {}): Promise<SealedSecretRow[]> {
  const { rows } = await db.query<{ tenant_id: string; name: string; key_id: string; nonce: Buffer; ciphertext: Buffer }>(
    `SELECT tenant_id, name, key_id, nonce, ciphertext FROM secrets ORDER BY tenant_id, name${options.lock ? ' FOR UPDATE' : ''}`,
  );
  return rows.map(toSealed);
}

/**
 * A value that changes whenever a secret is set or deleted: nodes read the secrets again only when it
 * moved. One aggregate, one line back, whatever the number of secrets. (A key rotation leaves it:
 * the values stay the same.)
 */
export async function secretsVersion(db: Queryable): Promise<string> {
  const { rows } = await db.query<{ version: string }>(`SELECT concat_ws(':', count(*), max(updated_at)) AS version FROM secrets`);
  return rows[0]!.version;
}

/** How many secrets each key sealed: what a process checks its keys against at start. */
export async function secretsByKey(db: Queryable): Promise<Map<string, number>> {
  const { rows } = await db.query<{ key_id: string; count: string }>('SELECT key_id, count(*) AS count FROM secrets GROUP BY key_id ORDER BY key_id');
  return new Map(rows.map((row) => [row.key_id, Number(row.count)]));
}
