import { parseArgs } from 'node:util';
import { ListSigningSecretsResponseSchema, SignedBy, type SigningSecret } from '@tickwise/api';
import { isUuid } from '@tickwise/platform';
import { printJson, withApi, type Api } from '../api-client.ts';
import { dateOf } from '../api-format.ts';
import { invalidArgument } from '../settings.ts';
import { relativeTime, renderTable, timeWithRelative } from '../table.ts';

export const SIGNING_HELP = `tickwise signing: Standard Webhooks signing secrets, over the API (TICKWISE_URL, TICKWISE_API_KEY)

  signing create [--endpoint <endpoint>]                a new secret, printed once on stdout (whsec_…);
                                                        the other secrets keep signing too
  signing rotate [--endpoint <endpoint>] [--grace 24h]  a new secret (printed once); the current ones
                                                        keep signing for the grace (0s to 30d), then stop
  signing revoke <secret id>                            the secret stops signing at once
  signing list [--endpoint <endpoint>] [--json]         the secrets (never their bytes), and whose sign

Without --endpoint: the tenant's secrets, which sign every endpoint that has none of its own.
<endpoint> is an endpoint id or <job>/<endpoint>. create, rotate and revoke need an admin key.
Receivers verify calls as docs/webhooks.md shows.`;

/** `tickwise signing …`. */
export async function signingCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { endpoint: { type: 'string' }, grace: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  const [action, ...rest] = positionals;
  if (values.help || !action) {
    console.log(SIGNING_HELP);
    return values.help ? 0 : 2;
  }
  if (!['create', 'rotate', 'revoke', 'list'].includes(action)) throw invalidArgument(`unknown signing command "${action}" (create, rotate, revoke, list)`);
  const wanted = action === 'revoke' ? 1 : 0;
  if (rest.length < wanted) throw invalidArgument('"tickwise signing revoke" needs a secret id ("tickwise signing list" shows them)');
  if (rest.length > wanted) throw invalidArgument(`unexpected argument "${rest[wanted]}" for "tickwise signing ${action}"`);
  if (values.grace !== undefined && action !== 'rotate') throw invalidArgument(`--grace does not apply to "tickwise signing ${action}"`);
  if (values.json && action !== 'list') throw invalidArgument(`--json does not apply to "tickwise signing ${action}"`);
  if (values.endpoint !== undefined && action === 'revoke') throw invalidArgument('--endpoint does not apply to "tickwise signing revoke": give the secret id');
  if (action === 'revoke' && !isUuid(rest[0]!)) throw invalidArgument(`"${rest[0]}" is not a signing secret id (a UUID; "tickwise signing list" shows them)`);

  return withApi(env, 'signing', async (api) => {
    const endpoint = values.endpoint === undefined ? undefined : await api.endpoint(values.endpoint);
    const owner = endpoint ? `endpoint ${values.endpoint}` : 'the tenant';
    const endpointId = endpoint?.id ?? '';
    const now = new Date();
    if (action === 'create' || action === 'rotate') {
      const made = action === 'create' ? await api.signing.createSigningSecret({ endpointId }) : await api.signing.rotateSigningSecret({ endpointId, grace: values.grace ?? '' });
      console.error(`${action === 'create' ? 'created' : 'rotated to'} signing secret ${made.signingSecret!.id} of ${owner}; it is shown once, below: give it to the receiver now`);
      if ('retired' in made) for (const old of made.retired) console.error(`  ${old.id} keeps signing until ${timeWithRelative(dateOf(old.expiresAt), now)}`);
      console.log(made.secret);
      return 0;
    }
    if (action === 'revoke') {
      const { signingSecret } = await api.signing.revokeSigningSecret({ signingSecretId: rest[0]! });
      console.log(`revoked signing secret ${signingSecret!.id}: it signs no more calls (within the nodes' TICKWISE_SIGNING_REFRESH)`);
      return 0;
    }
    return list(api, endpointId, owner, values.json ?? false, now);
  });
}

async function list(api: Api, endpointId: string, owner: string, json: boolean, now: Date): Promise<number> {
  const response = await api.signing.listSigningSecrets({ endpointId });
  if (json) {
    printJson(ListSigningSecretsResponseSchema, response);
    return 0;
  }
  console.log(signedByLine(response.signedBy, owner));
  if (response.signingSecrets.length > 0) console.log(signingTable(response.signingSecrets, now));
  return 0;
}

/** Whose secrets sign the calls, in words. Pure. */
export function signedByLine(signedBy: SignedBy, owner: string): string {
  const whose = owner === 'the tenant' ? "the tenant's endpoints without secrets of their own" : owner;
  if (signedBy === SignedBy.ENDPOINT) return `calls of ${whose} are signed with its own secrets`;
  if (signedBy === SignedBy.TENANT) return `calls of ${whose} are signed with the tenant's secrets`;
  return `calls of ${whose} are not signed`;
}

/** Signing secrets as a table, newest first. Pure. */
export function signingTable(secrets: readonly SigningSecret[], now: Date): string {
  const status = (secret: SigningSecret) => {
    const revoked = dateOf(secret.revokedAt);
    const expires = dateOf(secret.expiresAt);
    if (revoked) return `revoked ${relativeTime(revoked, now)}`;
    if (expires) return secret.active ? `retired, signs until ${relativeTime(expires, now)}` : `expired ${relativeTime(expires, now)}`;
    return 'active';
  };
  return renderTable(['ID', 'CREATED', 'STATUS'], secrets.map((secret) => [secret.id, relativeTime(dateOf(secret.createdAt), now), status(secret)]));
}
