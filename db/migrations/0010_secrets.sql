-- Tenants' named secrets, referenced as {{secrets.NAME}} in endpoint specs (docs/secrets.md). Same
-- rules as 0001: one idempotent DDL per step. Only ciphertext is stored: AES-256-GCM under the key of
-- TICKWISE_SECRETS_KEY, which never reaches the database. On YugabyteDB the primary key is
-- (tenant_id HASH, name ASC) by default: a tenant's secrets are read together, in name order.

--- step secrets
CREATE TABLE IF NOT EXISTS secrets (
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  -- 1-63 letters, digits, "_" or "-", starting with a letter: what follows {{secrets.
  name text NOT NULL,
  -- which key sealed it (16 hex digits of the key's SHA-256), so a process can say which key it lacks
  key_id text NOT NULL,
  -- 12 random bytes, new for every value
  nonce bytea NOT NULL,
  -- the value's ciphertext and the 16-byte GCM tag; the tenant and the name are its associated data
  ciphertext bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- when the value was last set (a key rotation re-encrypts without touching it)
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT secrets_pkey PRIMARY KEY (tenant_id, name),
  CONSTRAINT secrets_name_format CHECK (name ~ '^[A-Za-z][A-Za-z0-9_-]{0,62}$'),
  CONSTRAINT secrets_nonce_length CHECK (octet_length(nonce) = 12)
);
