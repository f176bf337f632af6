-- Tenants and API keys. Every job belongs to a tenant; endpoints carry their job's tenant too, so a
-- tenant-scoped lookup never joins. Rows that existed before belong to the default tenant, as does
-- everything the database-side CLI (`tickwise apply`) writes. Same rules as 0001: one idempotent DDL
-- per step. On YugabyteDB the first column of an index is hashed by default, so (tenant_id, x)
-- already is (tenant_id HASH, x ASC): no flavour variants are needed here.

--- step tenants
CREATE TABLE IF NOT EXISTS tenants (
  id uuid PRIMARY KEY,
  name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT tenants_name_key UNIQUE (name)
);

--- step default_tenant
-- A fixed id (a UUIDv7 of time zero) so code and operators can name it without a lookup.
INSERT INTO tenants (id, name) VALUES ('00000000-0000-7000-8000-000000000000', 'default') ON CONFLICT DO NOTHING;

--- step jobs_tenant_id
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS tenant_id uuid;

--- step jobs_tenant_backfill
UPDATE jobs SET tenant_id = '00000000-0000-7000-8000-000000000000' WHERE tenant_id IS NULL;

--- step jobs_tenant_not_null
ALTER TABLE jobs ALTER COLUMN tenant_id SET NOT NULL;

--- step jobs_tenant_name_key
-- Job names are unique per tenant; listing a tenant's jobs by name walks this index.
CREATE UNIQUE INDEX IF NOT EXISTS jobs_tenant_name_key ON jobs (tenant_id, name);

--- step jobs_drop_name_key
ALTER TABLE jobs DROP CONSTRAINT IF EXISTS jobs_name_key;

--- step endpoints_tenant_id
ALTER TABLE endpoints ADD COLUMN IF NOT EXISTS tenant_id uuid;

--- step endpoints_tenant_backfill
UPDATE endpoints e SET tenant_id = j.tenant_id FROM jobs j WHERE j.id = e.job_id AND e.tenant_id IS NULL;

--- step endpoints_tenant_not_null
ALTER TABLE endpoints ALTER COLUMN tenant_id SET NOT NULL;

--- step endpoints_tenant_idx
-- A tenant's endpoints in creation order (ids are UUIDv7): the API's listing and the watch's scan.
CREATE INDEX IF NOT EXISTS endpoints_tenant_idx ON endpoints (tenant_id, id);

--- step api_keys
-- A key is `tw_<prefix>_<secret>`: the prefix finds the row, the secret (32 random bytes) is kept
-- only as its SHA-256. Keys are high-entropy, so a plain hash is enough (no slow KDF needed).
CREATE TABLE IF NOT EXISTS api_keys (
  id uuid PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  role text NOT NULL CHECK (role IN ('read', 'write', 'admin')),
  name text NOT NULL,
  prefix text NOT NULL,
  secret_sha256 text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at timestamptz,
  CONSTRAINT api_keys_prefix_key UNIQUE (prefix)
);

--- step api_keys_tenant_idx
CREATE INDEX IF NOT EXISTS api_keys_tenant_idx ON api_keys (tenant_id, id);
