import type { ServiceImpl } from '@connectrpc/connect';
import { listApiKeys, revokeApiKey } from '@tickwise/db';
import { z } from 'zod';
import { API_KEY_NAME, createApiKey } from '../api-keys.ts';
import { callerOf } from '../auth.ts';
import { apiKeyMessage, ENUM_TO_ROLE } from '../convert.ts';
import { TickwiseError } from '@tickwise/platform';
import { type ApiKeyService, Role } from '@tickwise/api';
import { enumValue, id, parse, QUOTAS } from '../validate.ts';
import type { ServiceDeps } from './deps.ts';

const createSchema = z.object({
  name: z.string().regex(API_KEY_NAME, 'must be 1-63 letters, digits, spaces, ".", "_" or "-", starting with a letter or digit'),
  role: enumValue(Role, 'ROLE_UNSPECIFIED'),
});
const revokeSchema = z.object({ apiKeyId: id });

export function apiKeyService(deps: ServiceDeps): ServiceImpl<typeof ApiKeyService> {
  return {
    async createApiKey(request, context) {
      const { tenantId } = callerOf(context);
      const input = parse(createSchema, request);
      const live = (await listApiKeys(deps.pool, tenantId)).filter((key) => key.revokedAt === null);
      if (live.length >= QUOTAS.apiKeysPerTenant) throw new TickwiseError('resource_exhausted', `a tenant may have at most ${QUOTAS.apiKeysPerTenant} keys that are not revoked`);
      const created = await createApiKey(deps.pool, { tenantId, role: ENUM_TO_ROLE[input.role as Role.READ | Role.WRITE | Role.ADMIN], name: input.name });
      return { apiKey: apiKeyMessage(created.row), key: created.key };
    },

    async listApiKeys(_request, context) {
      const { tenantId } = callerOf(context);
      return { apiKeys: (await listApiKeys(deps.pool, tenantId)).map(apiKeyMessage) };
    },

    async revokeApiKey(request, context) {
      const { tenantId } = callerOf(context);
      const { apiKeyId } = parse(revokeSchema, request);
      const row = await revokeApiKey(deps.pool, tenantId, apiKeyId);
      if (!row) throw new TickwiseError('not_found', `API key ${apiKeyId} does not exist`);
      // Its watches on this gateway end now; on other gateways, at their next re-check of the keys.
      deps.watchKeys.revoke(row.id);
      return { apiKey: apiKeyMessage(row) };
    },
  };
}
