import { DEFAULT_TENANT_ID, DEFAULT_TENANT_NAME, inTransaction, insertTenant, listApiKeys, revokeApiKey, tenantById, type Pool } from '@tickwise/db';
import { createApiKey } from '@tickwise/gateway';
import { invalidConfig } from '@tickwise/platform';
import { recordChange } from '@tickwise/catalog';
import { databaseActor } from '../audit-actor.ts';

/** The name of the admin key `tickwise dev` makes at every start. */
export const DEV_KEY_NAME = 'dev';

/**
 * Makes sure the default tenant (the demo job's) exists, revokes the "dev" keys earlier starts made (so they do not
 * pile up, and only the key just printed works) and creates a fresh admin key named "dev" for it,
 * all in one transaction. Returns the key, shown once.
 */
export async function freshDevKey(pool: Pool): Promise<{ key: string; tenant: string; revoked: number }> {
  return inTransaction(pool, async (client) => {
    // The tenant of the demo job (and of `tickwise apply`). Migrations create it; a person may have removed it since.
    const tenant = (await tenantById(client, DEFAULT_TENANT_ID)) ?? (await insertTenant(client, { id: DEFAULT_TENANT_ID, name: DEFAULT_TENANT_NAME }));
    if (!tenant) throw invalidConfig(`could not create the default tenant (id ${DEFAULT_TENANT_ID}): another tenant is named "${DEFAULT_TENANT_NAME}"; rename it`);
    const earlier = (await listApiKeys(client, tenant.id)).filter((key) => key.name === DEV_KEY_NAME && key.revokedAt === null);
    for (const key of earlier) await revokeApiKey(client, tenant.id, key.id);
    const { key, row } = await createApiKey(client, { tenantId: tenant.id, role: 'admin', name: DEV_KEY_NAME });
    await recordChange(client, tenant.id, databaseActor('dev'), `key ${DEV_KEY_NAME}`, { apiKeyId: row.id, role: 'admin', revoked: earlier.map((each) => each.id) });
    return { key, tenant: tenant.name, revoked: earlier.length };
  });
}
