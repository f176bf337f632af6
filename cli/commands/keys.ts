import { parseArgs } from 'node:util';
import { createApiKey } from '@tickwise/gateway';
import { recordChange } from '@tickwise/catalog';
import { API_KEY_ROLES, apiKeyById, inTransaction, insertTenant, listApiKeys, listTenants, newId, revokeApiKey, tenantById, tenantByName, type ApiKeyRole, type Pool } from '@tickwise/db';
import { nameSchema } from '@tickwise/machines';
import { isUuid } from '@tickwise/platform';
import { invalidArgument, loggerFor, requireDatabaseUrl, type CliSettings } from '../settings.ts';
import { databaseActor } from '../audit-actor.ts';
import { openPool, requireCurrentSchema } from './common.ts';

export const KEYS_HELP = `tickwise keys: API keys, straight on the database (DATABASE_URL)

  keys create --role <read|write|admin> --name <label> [--tenant <name>] [--new-tenant]
        prints the new key on stdout, once (only its hash is kept); the tenant defaults to
        "default"; --new-tenant creates the tenant first
  keys list [--tenant <name>]    keys of a tenant (or of every tenant), never the keys themselves
  keys revoke <key id>           the key is refused from then on`;

const KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,62}$/;

/** `tickwise keys …`: the operator's way to make the first key of a tenant. */
export async function keysCommand(settings: CliSettings, argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { tenant: { type: 'string' }, role: { type: 'string' }, name: { type: 'string' }, 'new-tenant': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  const [action, ...rest] = positionals;
  if (values.help || !action) {
    console.log(KEYS_HELP);
    return action || values.help ? 0 : 2;
  }
  if (action !== 'create' && action !== 'list' && action !== 'revoke') throw invalidArgument(`unknown keys command "${action}" (create, list, revoke)`);
  if (action === 'revoke' ? rest.length !== 1 : rest.length > 0) throw invalidArgument(action === 'revoke' ? '"tickwise keys revoke" needs one key id' : `unexpected argument "${rest[0]}"`);
  if (action === 'create') {
    if (!values.role || !(API_KEY_ROLES as readonly string[]).includes(values.role)) throw invalidArgument(`--role must be read, write or admin${values.role ? `, got "${values.role}"` : ''}`);
    if (!values.name || !KEY_NAME.test(values.name)) throw invalidArgument('--name must be 1-63 letters, digits, spaces, ".", "_" or "-", starting with a letter or digit');
  }
  if (values.tenant !== undefined && !nameSchema.safeParse(values.tenant).success) throw invalidArgument('--tenant must be 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit');
  const log = loggerFor(settings, 'keys');
  const pool = await openPool(settings, requireDatabaseUrl(settings, 'keys'), log, 2);
  try {
    await requireCurrentSchema(pool);
    if (action === 'create') return await create(pool, values.tenant ?? 'default', values.role as ApiKeyRole, values.name!, values['new-tenant'] ?? false);
    if (action === 'list') return await list(pool, values.tenant);
    return await revoke(pool, rest[0]!);
  } finally {
    await pool.end();
  }
}

async function create(pool: Pool, tenantName: string, role: ApiKeyRole, name: string, newTenant: boolean): Promise<number> {
  let tenant = await tenantByName(pool, tenantName);
  if (!tenant && !newTenant) throw invalidArgument(`tenant "${tenantName}" does not exist; add --new-tenant to create it`);
  if (!tenant) tenant = (await insertTenant(pool, { id: newId(), name: tenantName })) ?? (await tenantByName(pool, tenantName));
  // The key and its audit event in one transaction: a key nobody recorded never exists.
  const { key, row } = await inTransaction(pool, async (client) => {
    const made = await createApiKey(client, { tenantId: tenant!.id, role, name });
    await recordChange(client, tenant!.id, databaseActor('keys create'), `key ${name}`, { apiKeyId: made.row.id, role, ...(newTenant ? { tenant: tenant!.name } : {}) });
    return made;
  });
  console.error(`created ${role} key "${name}" (id ${row.id}) for tenant "${tenant!.name}" (id ${tenant!.id}); it is shown once, below: store it now`);
  console.log(key);
  return 0;
}

async function list(pool: Pool, tenantName: string | undefined): Promise<number> {
  const tenants = tenantName === undefined ? await listTenants(pool) : [await tenantByName(pool, tenantName)];
  if (tenants[0] === null) throw invalidArgument(`tenant "${tenantName}" does not exist`);
  for (const tenant of tenants) {
    for (const key of await listApiKeys(pool, tenant!.id)) {
      const state = key.revokedAt ? `revoked ${key.revokedAt.toISOString()}` : key.lastUsedAt ? `last used ${key.lastUsedAt.toISOString()}` : 'never used';
      console.log(`${key.id}  ${tenant!.name}  ${key.role.padEnd(5)}  tw_${key.prefix}_…  ${key.name}  (${state})`);
    }
  }
  return 0;
}

async function revoke(pool: Pool, id: string): Promise<number> {
  if (!isUuid(id)) throw invalidArgument(`"${id}" is not a key id (a UUID; "tickwise keys list" shows them)`);
  const key = await apiKeyById(pool, id);
  if (!key) throw invalidArgument(`no API key has id ${id}`);
  await inTransaction(pool, async (client) => {
    await revokeApiKey(client, key.tenantId, key.id);
    await recordChange(client, key.tenantId, databaseActor('keys revoke'), `key ${key.name}`, { apiKeyId: key.id });
  });
  const tenant = await tenantById(pool, key.tenantId);
  console.log(`revoked key "${key.name}" (${key.role}) of tenant "${tenant?.name ?? key.tenantId}"`);
  return 0;
}
