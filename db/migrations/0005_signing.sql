-- Signing secrets of outbound calls (Standard Webhooks, docs/webhooks.md). Same rules as 0001: one
-- idempotent DDL per step. No foreign keys: endpoints are archived, never deleted, and tenants
-- arrive in another migration; the catalog checks the owner when it writes a secret.

--- step signing_secrets
CREATE TABLE IF NOT EXISTS signing_secrets (
  -- UUIDv7 made by the application: newest first is id order
  id uuid PRIMARY KEY,
  -- exactly one owner: a tenant (used by its endpoints that have none of their own) or an endpoint
  tenant_id uuid,
  endpoint_id uuid,
  -- 24 to 64 random bytes, shown once as whsec_<base64>; the HMAC key itself, so it cannot be hashed
  secret bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- set when a rotation retires it: it keeps signing (next to the new one) until then
  expires_at timestamptz,
  -- set by a revocation: it stops signing at once
  revoked_at timestamptz,
  CONSTRAINT signing_secrets_one_owner CHECK ((tenant_id IS NULL) <> (endpoint_id IS NULL)),
  CONSTRAINT signing_secrets_length CHECK (octet_length(secret) BETWEEN 24 AND 64)
);

--- step signing_secrets_endpoint_idx
CREATE INDEX IF NOT EXISTS signing_secrets_endpoint_idx ON signing_secrets (endpoint_id) WHERE endpoint_id IS NOT NULL;

--- step signing_secrets_tenant_idx
CREATE INDEX IF NOT EXISTS signing_secrets_tenant_idx ON signing_secrets (tenant_id) WHERE tenant_id IS NOT NULL;
