import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { ServiceImpl } from '@connectrpc/connect';
import { addSigningSecret, listSigningSecrets, MAX_ROTATION_GRACE_MS, revokeSigningSecret, rotateSigningSecret, type SecretOwner, type SigningSecretRow } from '@tickwise/catalog';
import { signingSecretOfTenant, usableSigningSecrets } from '@tickwise/db';
import { formatDuration, parseDuration, TickwiseError } from '@tickwise/platform';
import { SignedBy, type SigningService } from '@tickwise/api';
import { z } from 'zod';
import { callerOf } from '../auth.ts';
import { id, optionalId, parse } from '../validate.ts';
import type { ServiceDeps } from './deps.ts';
import { loadEndpoint } from './endpoint-service.ts';

const ownerSchema = z.object({ endpointId: optionalId });
const rotateSchema = z.object({
  endpointId: optionalId,
  grace: z.string().transform((text, ctx) => {
    if (text === '') return undefined;
    const ms = parseDuration(text);
    if (ms === undefined || ms > MAX_ROTATION_GRACE_MS) {
      ctx.addIssue({ code: 'custom', message: `must be a duration from 0s to ${formatDuration(MAX_ROTATION_GRACE_MS)}, such as 24h (empty: 24h), got "${text.slice(0, 40)}"` });
      return z.NEVER;
    }
    return ms;
  }),
});
const revokeSchema = z.object({ signingSecretId: id });

/** A signing secret as the API shows it: never its bytes. Pure. */
export function signingSecretMessage(row: SigningSecretRow, now: Date) {
  const ts = (date: Date | null) => (date ? timestampFromDate(date) : undefined);
  return {
    id: row.id,
    endpointId: row.endpointId ?? '',
    createdAt: ts(row.createdAt),
    expiresAt: ts(row.expiresAt),
    revokedAt: ts(row.revokedAt),
    active: row.revokedAt === null && (row.expiresAt === null || row.expiresAt > now),
  };
}

/**
 * Signing secrets of the caller's tenant, on catalog/src/signing.ts: an endpoint's (another tenant's
 * endpoint is NOT_FOUND, as everywhere) or, without an endpoint, the tenant's. The secret itself
 * is in the answer of create and rotate only.
 */
export function signingService(deps: ServiceDeps): ServiceImpl<typeof SigningService> {
  /** The owner a request names: the tenant's endpoint, or the tenant itself. */
  async function ownerOf(tenantId: string, endpointId: string | null): Promise<SecretOwner> {
    return endpointId === null ? { tenantId } : { endpointId: (await loadEndpoint(deps, tenantId, endpointId)).id };
  }

  return {
    async createSigningSecret(request, context) {
      const { tenantId } = callerOf(context);
      const { endpointId } = parse(ownerSchema, request);
      const created = await addSigningSecret(deps.pool, await ownerOf(tenantId, endpointId));
      const row = { id: created.id, tenantId: created.owner.tenantId ?? null, endpointId: created.owner.endpointId ?? null, createdAt: created.createdAt, expiresAt: null, revokedAt: null };
      return { signingSecret: signingSecretMessage(row, deps.now()), secret: created.secret };
    },

    async rotateSigningSecret(request, context) {
      const { tenantId } = callerOf(context);
      const { endpointId, grace } = parse(rotateSchema, request);
      const created = await rotateSigningSecret(deps.pool, await ownerOf(tenantId, endpointId), grace === undefined ? {} : { graceMs: grace });
      const row = { id: created.id, tenantId: created.owner.tenantId ?? null, endpointId: created.owner.endpointId ?? null, createdAt: created.createdAt, expiresAt: null, revokedAt: null };
      const now = deps.now();
      return { signingSecret: signingSecretMessage(row, now), secret: created.secret, retired: created.retired.map((each) => signingSecretMessage(each, now)) };
    },

    async revokeSigningSecret(request, context) {
      const { tenantId } = callerOf(context);
      const { signingSecretId } = parse(revokeSchema, request);
      if (!(await signingSecretOfTenant(deps.pool, tenantId, signingSecretId))) throw new TickwiseError('not_found', `signing secret ${signingSecretId} does not exist`);
      return { signingSecret: signingSecretMessage(await revokeSigningSecret(deps.pool, signingSecretId), deps.now()) };
    },

    async listSigningSecrets(request, context) {
      const { tenantId } = callerOf(context);
      const { endpointId } = parse(ownerSchema, request);
      const owner = await ownerOf(tenantId, endpointId);
      const [rows, own, tenants] = await Promise.all([
        listSigningSecrets(deps.pool, owner),
        owner.endpointId ? usableSigningSecrets(deps.pool, owner) : Promise.resolve([]),
        usableSigningSecrets(deps.pool, { tenantId }),
      ]);
      // An endpoint's own secrets win over its tenant's (as the nodes sign).
      const signedBy = own.length > 0 ? SignedBy.ENDPOINT : tenants.length > 0 ? SignedBy.TENANT : SignedBy.NONE;
      const now = deps.now();
      return { signingSecrets: rows.map((row) => signingSecretMessage(row, now)), signedBy };
    },
  };
}
