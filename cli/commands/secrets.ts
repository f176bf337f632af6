import { parseArgs } from 'node:util';
import { checkSecretValue, rotateSecretsKey } from '@tickwise/catalog';
import { ListSecretsResponseSchema, type Secret } from '@tickwise/api';
import { SECRET_NAME, SECRET_NAME_RULE } from '@tickwise/machines';
import { secretsKeyringFromEnv } from '@tickwise/platform';
import { printJson, readApiSettings, withApi } from '../api-client.ts';
import { dateOf } from '../api-format.ts';
import { invalidArgument, loggerFor, requireDatabaseUrl, type CliSettings } from '../settings.ts';
import { relativeTime, renderTable } from '../table.ts';
import { openPool, requireCurrentSchema } from './common.ts';
import { readSecretValue } from './secret-input.ts';

export const SECRETS_HELP = `tickwise secrets: the tenant's named secrets, written {{secrets.NAME}} in an endpoint's header
values, URL (path, query, fragment) and body strings; encrypted at rest, never shown again

over the API (TICKWISE_URL, TICKWISE_API_KEY; set and delete need a write key):
  secrets set <NAME>       the value from stdin (typed without echo on a terminal; one trailing
                           newline dropped), e.g.  printf %s "$TOKEN" | tickwise secrets set TOKEN
  secrets list [--json]    names, when each was created and last set; never a value
  secrets delete <NAME>    refused while an endpoint uses it

on the database (DATABASE_URL):
  secrets rotate-key       re-encrypts every secret with TICKWISE_SECRETS_KEY (the new key), opening
                           the others with TICKWISE_SECRETS_OLD_KEY, in one transaction

NAME is ${SECRET_NAME_RULE}.`;

/** `tickwise secrets …`. */
export async function secretsCommand(settings: () => CliSettings, argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  const [action, ...rest] = positionals;
  if (values.help || !action) {
    console.log(SECRETS_HELP);
    return values.help ? 0 : 2;
  }
  const wanted = action === 'set' || action === 'delete' ? 1 : 0;
  if (!['set', 'list', 'delete', 'rotate-key'].includes(action)) throw invalidArgument(`unknown secrets command "${action}" (set, list, delete, rotate-key)`);
  if (rest.length < wanted) throw invalidArgument(`"tickwise secrets ${action}" needs the secret's name`);
  if (rest.length > wanted) throw invalidArgument(`unexpected argument "${rest[wanted]}" for "tickwise secrets ${action}"`);
  if (values.json && action !== 'list') throw invalidArgument(`--json does not apply to "tickwise secrets ${action}"`);
  const name = rest[0];
  if (name !== undefined && !SECRET_NAME.test(name)) throw invalidArgument(`"${name}" is not a secret name: it must be ${SECRET_NAME_RULE}`);

  if (action === 'rotate-key') return rotateKey(settings(), env);
  if (action === 'set') {
    // Settings first: nobody should type a secret only to learn that TICKWISE_URL is missing.
    readApiSettings(env, 'secrets');
    const value = await readSecretValue(name!);
    try {
      checkSecretValue(value);
    } catch (error) {
      // The same words as the API's, said of stdin (exit 2): the value is never echoed.
      throw invalidArgument(`the value on stdin ${(error as Error).message.replace(/^value: /, '')}`);
    }
    return withApi(env, 'secrets', async (api) => {
      const { created } = await api.secrets.setSecret({ name: name!, value });
      console.log(`secret ${name} ${created ? 'created' : 'updated'}: write {{secrets.${name}}} where an endpoint needs it`);
      return 0;
    });
  }
  return withApi(env, 'secrets', async (api) => {
    if (action === 'delete') {
      await api.secrets.deleteSecret({ name: name! });
      console.log(`secret ${name} deleted`);
      return 0;
    }
    const response = await api.secrets.listSecrets({});
    if (values.json) printJson(ListSecretsResponseSchema, response);
    else console.log(response.secrets.length === 0 ? 'no secrets' : secretsTable(response.secrets, new Date()));
    return 0;
  });
}

/** Secrets as a table, by name. Pure. */
export function secretsTable(secrets: readonly Secret[], now: Date): string {
  return renderTable(
    ['NAME', 'CREATED', 'UPDATED'],
    secrets.map((secret) => [secret.name, relativeTime(dateOf(secret.createdAt), now), relativeTime(dateOf(secret.updatedAt), now)]),
  );
}

async function rotateKey(settings: CliSettings, env: NodeJS.ProcessEnv): Promise<number> {
  const keyring = secretsKeyringFromEnv(env);
  const log = loggerFor(settings, 'secrets');
  const pool = await openPool(settings, requireDatabaseUrl(settings, 'secrets rotate-key'), log, 2);
  try {
    await requireCurrentSchema(pool);
    const { reencrypted, unchanged, keyId } = await rotateSecretsKey(pool, keyring);
    console.log(`re-encrypted ${reencrypted} secret(s) with key ${keyId}${unchanged > 0 ? ` (${unchanged} already were)` : ''}; give every scheduler node and gateway TICKWISE_SECRETS_KEY now, then drop TICKWISE_SECRETS_OLD_KEY`);
    return 0;
  } finally {
    await pool.end();
  }
}
