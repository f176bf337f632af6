import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { ServiceImpl } from '@connectrpc/connect';
import { deleteSecret, listSecrets, setSecret, type SecretRow } from '@tickwise/catalog';
import type { SecretService } from '@tickwise/api';
import { callerOf } from '../auth.ts';
import type { ServiceDeps } from './deps.ts';

/** A secret as the API shows it: its name and times, never its value. Pure. */
export function secretMessage(row: SecretRow) {
  return { name: row.name, createdAt: timestampFromDate(row.createdAt), updatedAt: timestampFromDate(row.updatedAt) };
}

/**
 * The tenant's named secrets. The value arrives in SetSecret and goes no further than the cipher:
 * no answer, log line or error message carries it (the catalog's checks say what is wrong with a
 * value without quoting it).
 */
export function secretService(deps: ServiceDeps): ServiceImpl<typeof SecretService> {
  return {
    async setSecret(request, context) {
      const { tenantId } = callerOf(context);
      const { secret, created } = await setSecret(deps.pool, deps.config.secretsKeys, tenantId, request.name, request.value);
      return { secret: secretMessage(secret), created };
    },

    async listSecrets(_request, context) {
      const { tenantId } = callerOf(context);
      return { secrets: (await listSecrets(deps.pool, tenantId)).map(secretMessage) };
    },

    async deleteSecret(request, context) {
      const { tenantId } = callerOf(context);
      await deleteSecret(deps.pool, tenantId, request.name);
      return {};
    },
  };
}
