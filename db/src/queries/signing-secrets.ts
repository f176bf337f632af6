import type { Queryable } from '../pool.ts';

/** Whose secret it is: an endpoint's own, or its tenant's (used by every endpoint of the tenant without one). */
export type SecretOwner = { endpointId: string; tenantId?: undefined } | { tenantId: string; endpointId?: undefined };

export interface SigningSecretRow {
  id: string;
  tenantId: string | null;
  endpointId: string | null;
  createdAt: Date;
  /** A retired secret still signs until then. */
  expiresAt: Date | null;
  revokedAt: Date | null;
}

/** A usable secret with its bytes, for signing. */
export interface ActiveSigningSecret {
  id: string;
  tenantId: string | null;
  endpointId: string | null;
  secret: Buffer;
  expiresAt: Date | null;
}

interface RawRow {
  id: string;
  tenant_id: string | null;
  endpoint_id: string | null;
  created_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
}

const COLUMNS = 'id, tenant_id, endpoint_id, created_at, expires_at, revoked_at';
const USABLE = 'revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())';

function toRow(raw: RawRow): SigningSecretRow {
  return { id: raw.id, tenantId: raw.tenant_id, endpointId: raw.endpoint_id, createdAt: raw.created_at, expiresAt: raw.expires_at, revokedAt: raw.revoked_at };
}

function ownerClause(owner: SecretOwner, index: number): [string, string] {
  return owner.endpointId !== undefined ? [`endpoint_id = $${index}`, owner.endpointId] : [`tenant_id = $${index}`, owner.tenantId];
}

/** Every usable secret (not revoked, not past its expiry), with its bytes: what scheduler nodes cache. */
export async function activeSigningSecrets(db: Queryable): Promise<ActiveSigningSecret[]> {
  const { rows } = await db.query<{ id: string; tenant_id: string | null; endpoint_id: string | null; secret: Buffer; expires_at: Date | null }>(
    `SELECT id, tenant_id, endpoint_id, secret, expires_at FROM signing_secrets WHERE ${USABLE}`,
  );
  return rows.map((row) => ({ id: row.id, tenantId: row.tenant_id, endpointId: row.endpoint_id, secret: row.secret, expiresAt: row.expires_at }));
}

/**
 * A value that changes whenever a secret is added, retired (its expiry set or moved earlier),
 * revoked or deleted: nodes reload the secrets only when it moved. One aggregate, nothing sent back
 * but one line, whatever the number of secrets.
 */
export async function signingSecretsVersion(db: Queryable): Promise<string> {
  const { rows } = await db.query<{ version: string }>(
    `SELECT concat_ws(':', count(*), count(revoked_at), count(expires_at), sum(extract(epoch FROM expires_at))) AS version FROM signing_secrets`,
  );
  return rows[0]!.version;
}

/** The owner's usable secrets, newest first, without their bytes. */
export async function usableSigningSecrets(db: Queryable, owner: SecretOwner): Promise<SigningSecretRow[]> {
  const [where, value] = ownerClause(owner, 1);
  const { rows } = await db.query<RawRow>(`SELECT ${COLUMNS} FROM signing_secrets WHERE ${where} AND ${USABLE} ORDER BY id DESC`, [value]);
  return rows.map(toRow);
}

/** Every secret of the owner, revoked and expired ones included, newest first, without their bytes. */
export async function listSigningSecretRows(db: Queryable, owner: SecretOwner): Promise<SigningSecretRow[]> {
  const [where, value] = ownerClause(owner, 1);
  const { rows } = await db.query<RawRow>(`SELECT ${COLUMNS} FROM signing_secrets WHERE ${where} ORDER BY id DESC`, [value]);
  return rows.map(toRow);
}

export async function insertSigningSecret(db: Queryable, secret: { id: string; owner: SecretOwner; secret: Buffer }): Promise<SigningSecretRow> {
  const { rows } = await db.query<RawRow>(
    `INSERT INTO signing_secrets (id, tenant_id, endpoint_id, secret) VALUES ($1, $2, $3, $4) RETURNING ${COLUMNS}`,
    [secret.id, secret.owner.tenantId ?? null, secret.owner.endpointId ?? null, secret.secret],
  );
  return toRow(rows[0]!);
}

/**
 * Retires the owner's usable secrets: each keeps signing until `graceMs` from now (database time),
 * or until its own earlier expiry. Returns the retired secrets as they are now.
 */
export async function retireSigningSecrets(db: Queryable, owner: SecretOwner, graceMs: number): Promise<SigningSecretRow[]> {
  const [where, value] = ownerClause(owner, 1);
  const { rows } = await db.query<RawRow>(
    `UPDATE signing_secrets SET expires_at = LEAST(COALESCE(expires_at, 'infinity'::timestamptz), now() + $2::bigint * interval '1 millisecond')
      WHERE ${where} AND ${USABLE} RETURNING ${COLUMNS}`,
    [value, graceMs],
  );
  return rows.map(toRow).sort((a, b) => (a.id < b.id ? 1 : -1));
}

/** Revokes a secret at once. Returns it (unchanged if it was already revoked), or null if there is none with that id. */
export async function revokeSigningSecretRow(db: Queryable, id: string): Promise<SigningSecretRow | null> {
  const { rows } = await db.query<RawRow>(
    `UPDATE signing_secrets SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1 RETURNING ${COLUMNS}`,
    [id],
  );
  return rows[0] ? toRow(rows[0]) : null;
}

/** The secret of that id when it belongs to the tenant (the tenant's own, or one of its endpoints'), else null. */
export async function signingSecretOfTenant(db: Queryable, tenantId: string, id: string): Promise<SigningSecretRow | null> {
  const { rows } = await db.query<RawRow>(
    `SELECT s.id, s.tenant_id, s.endpoint_id, s.created_at, s.expires_at, s.revoked_at
       FROM signing_secrets s LEFT JOIN endpoints e ON e.id = s.endpoint_id
      WHERE s.id = $1 AND (s.tenant_id = $2 OR e.tenant_id = $2)`,
    [id, tenantId],
  );
  return rows[0] ? toRow(rows[0]) : null;
}
