import type { Queryable } from '../pool.ts';

/** The tenant of rows that existed before tenants, and of everything the database-side CLI writes. */
export const DEFAULT_TENANT_ID = '00000000-0000-7000-8000-000000000000';
export const DEFAULT_TENANT_NAME = 'default';

export interface Tenant {
  id: string;
  name: string;
  createdAt: Date;
}

interface RawTenant {
  id: string;
  name: string;
  created_at: Date;
}

const toTenant = (row: RawTenant): Tenant => ({ id: row.id, name: row.name, createdAt: row.created_at });

/** Inserts a tenant; null when the name is taken. */
export async function insertTenant(db: Queryable, tenant: { id: string; name: string }): Promise<Tenant | null> {
  const { rows } = await db.query<RawTenant>('INSERT INTO tenants (id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING id, name, created_at', [tenant.id, tenant.name]);
  return rows[0] ? toTenant(rows[0]) : null;
}

export async function tenantByName(db: Queryable, name: string): Promise<Tenant | null> {
  const { rows } = await db.query<RawTenant>('SELECT id, name, created_at FROM tenants WHERE name = $1', [name]);
  return rows[0] ? toTenant(rows[0]) : null;
}

export async function tenantById(db: Queryable, id: string): Promise<Tenant | null> {
  const { rows } = await db.query<RawTenant>('SELECT id, name, created_at FROM tenants WHERE id = $1', [id]);
  return rows[0] ? toTenant(rows[0]) : null;
}

export async function listTenants(db: Queryable): Promise<Tenant[]> {
  const { rows } = await db.query<RawTenant>('SELECT id, name, created_at FROM tenants ORDER BY name');
  return rows.map(toTenant);
}
