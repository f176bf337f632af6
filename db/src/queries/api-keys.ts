import type { Queryable } from '../pool.ts';

export const API_KEY_ROLES = ['read', 'write', 'admin'] as const;
export type ApiKeyRole = (typeof API_KEY_ROLES)[number];

/** An API key as stored: never the key itself, only the SHA-256 of its secret part. */
export interface ApiKeyRow {
  id: string;
  tenantId: string;
  role: ApiKeyRole;
  name: string;
  prefix: string;
  secretSha256: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

interface RawApiKey {
  id: string;
  tenant_id: string;
  role: ApiKeyRole;
  name: string;
  prefix: string;
  secret_sha256: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

function toApiKey(row: RawApiKey): ApiKeyRow {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    role: row.role,
    name: row.name,
    prefix: row.prefix,
    secretSha256: row.secret_sha256,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}

export async function insertApiKey(db: Queryable, key: { id: string; tenantId: string; role: ApiKeyRole; name: string; prefix: string; secretSha256: string }): Promise<ApiKeyRow> {
  const { rows } = await db.query<RawApiKey>(
    `INSERT INTO api_keys (id, tenant_id, role, name, prefix, secret_sha256) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *`,
    [key.id, key.tenantId, key.role, key.name, key.prefix, key.secretSha256],
  );
  return toApiKey(rows[0]!);
}

/** The key with that prefix, revoked or not (the caller decides). */
export async function apiKeyByPrefix(db: Queryable, prefix: string): Promise<ApiKeyRow | null> {
  const { rows } = await db.query<RawApiKey>('SELECT * FROM api_keys WHERE prefix = $1', [prefix]);
  return rows[0] ? toApiKey(rows[0]) : null;
}

/** Records a use, at most once per `everyMs`, so a busy key does not write on every request. */
export async function touchApiKey(db: Queryable, id: string, everyMs: number): Promise<void> {
  await db.query(
    `UPDATE api_keys SET last_used_at = now()
      WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2::double precision / 1000))`,
    [id, everyMs],
  );
}

/** Keys of a tenant, oldest first, revoked ones included. */
export async function listApiKeys(db: Queryable, tenantId: string): Promise<ApiKeyRow[]> {
  const { rows } = await db.query<RawApiKey>('SELECT * FROM api_keys WHERE tenant_id = $1 ORDER BY id', [tenantId]);
  return rows.map(toApiKey);
}

/** Revokes a key of the tenant; null when it has no such key. Revoking twice keeps the first time. */
export async function revokeApiKey(db: Queryable, tenantId: string, id: string): Promise<ApiKeyRow | null> {
  const { rows } = await db.query<RawApiKey>(
    'UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE tenant_id = $1 AND id = $2 RETURNING *',
    [tenantId, id],
  );
  return rows[0] ? toApiKey(rows[0]) : null;
}

/** A key by id, of any tenant: for the operator's CLI only. */
export async function apiKeyById(db: Queryable, id: string): Promise<ApiKeyRow | null> {
  const { rows } = await db.query<RawApiKey>('SELECT * FROM api_keys WHERE id = $1', [id]);
  return rows[0] ? toApiKey(rows[0]) : null;
}

/** Which of `ids` are keys that are not revoked (one statement): the gateway ends the watches of the others. */
export async function liveApiKeyIds(db: Queryable, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const { rows } = await db.query<{ id: string }>('SELECT id FROM api_keys WHERE id = ANY($1::uuid[]) AND revoked_at IS NULL', [ids]);
  return new Set(rows.map((row) => row.id));
}
