import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EndpointService, JobService } from '@tickwise/api';
import { allSealedSecrets } from '@tickwise/db';
import { parseSecretsKey } from '@tickwise/platform';
import { spec, useGateway } from '../../test/support/gateway.ts';
import { startHttpTarget, type HttpTarget } from '../../test/support/http-target.ts';
import { startNode } from '../../test/support/scheduler.ts';
import { waitFor } from '../../test/support/wait.ts';
import { tableRows, tickwise } from './cli-process.ts';

const OLD_KEY = randomBytes(32).toString('base64');
const NEW_KEY = randomBytes(32).toString('base64');
const keyring = (text: string) => ({ current: parseSecretsKey(text, 'test key'), previous: null });
const VALUE = `cli-${randomBytes(10).toString('hex')}`;

describe('tickwise secrets and tickwise signing', () => {
  const fx = useGateway({ secretsKeys: keyring(OLD_KEY) });
  let target: HttpTarget;
  const api = (key = fx.a.keys.write) => ({ TICKWISE_URL: fx.gateway.url, TICKWISE_API_KEY: key });
  beforeAll(async () => {
    target = await startHttpTarget();
  });
  afterAll(async () => target?.close());

  it('sets a secret from stdin (one trailing newline dropped), lists it, and refuses bad input with exit 2 and refusals with exit 1', async () => {
    const set = await tickwise(['secrets', 'set', 'TOKEN'], api(), `${VALUE}\n`);
    expect(set.stderr).toBe('');
    expect(set).toMatchObject({ code: 0, stdout: 'secret TOKEN created: write {{secrets.TOKEN}} where an endpoint needs it\n' });
    expect((await tickwise(['secrets', 'set', 'TOKEN'], api(), VALUE)).stdout).toContain('secret TOKEN updated');
    expect(await tickwise(['secrets', 'set', 'SPARE'], api(), 'spare')).toMatchObject({ code: 0 });

    const listed = await tickwise(['secrets', 'list'], api(fx.a.keys.read));
    expect(tableRows(listed.stdout)).toEqual([
      ['NAME', 'CREATED', 'UPDATED'],
      ['SPARE', expect.stringMatching(/^(now|\ds ago)$/), expect.stringMatching(/^(now|\ds ago)$/)],
      ['TOKEN', expect.stringMatching(/^(now|\ds ago)$/), expect.stringMatching(/^(now|\ds ago)$/)],
    ]);
    const json = JSON.parse((await tickwise(['secrets', 'list', '--json'], api(fx.a.keys.read))).stdout) as { secrets: { name: string }[] };
    expect(json.secrets.map((secret) => secret.name)).toEqual(['SPARE', 'TOKEN']);

    const cases: [string[], string | undefined, number, string][] = [
      [['secrets', 'set', 'TOKEN'], '', 2, 'error: no value on stdin for TOKEN: pipe it in, e.g.  printf %s "$VALUE" | tickwise secrets set TOKEN'],
      [['secrets', 'set', 'TOKEN'], 'a\nb', 2, 'error: the value on stdin must be one line: no line break or NUL character (a value may stand in a header)'],
      [['secrets', 'set', '9lives'], 'x', 2, 'error: "9lives" is not a secret name: it must be 1-63 letters, digits, "_" or "-", starting with a letter'],
      [['secrets', 'set'], undefined, 2, `error: "tickwise secrets set" needs the secret's name`],
      [['secrets', 'forget', 'X'], undefined, 2, 'error: unknown secrets command "forget" (set, list, delete, rotate-key)'],
      [['secrets', 'delete', 'NOPE'], undefined, 1, 'error: not found (not_found): secret "NOPE" does not exist'],
    ];
    for (const [args, input, code, message] of cases) {
      const result = await tickwise(args, api(), input);
      expect(result.stderr.trim(), args.join(' ')).toBe(message);
      expect(result.code, args.join(' ')).toBe(code);
    }
    const denied = await tickwise(['secrets', 'set', 'X'], api(fx.a.keys.read), 'x');
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain('permission_denied');
    expect([set, listed].map((result) => result.stdout + result.stderr).join('')).not.toContain(VALUE);
  });

  it('apply: suggests a secret for an inline credential, refuses user:pass@ (exit 2) and an unknown secret (exit 1), naming the field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tw-secrets-cli-'));
    const file = (name: string, endpoint: string) => {
      writeFileSync(join(dir, name), `jobs:\n  - name: cli-apply\n    endpoints:\n${endpoint}`);
      return join(dir, name);
    };
    const inline = file('inline.yaml', `      - name: poll\n        url: ${target.url}/poll\n        headers: { Authorization: "Bearer abc123", X-Team: ops }\n        schedule: { every: 1h }\n`);
    const applied = await tickwise(['apply', '-f', inline], api());
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stderr.trim()).toBe(
      `${inline}: header Authorization of jobs[0].endpoints[0] (cli-apply/poll) looks like a credential written inline: store it with "tickwise secrets set CLI_APPLY_POLL_AUTHORIZATION" and write "Authorization: Bearer {{secrets.CLI_APPLY_POLL_AUTHORIZATION}}"`,
    );
    const credentialed = file('userinfo.yaml', `      - name: poll\n        url: https://user:pass@example.com/x\n        schedule: { every: 1h }\n`);
    const refused = await tickwise(['apply', '-f', credentialed], { DATABASE_URL: fx.db.url });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`${credentialed}:5:14: jobs[0].endpoints[0].url: must not hold a user name or password`);
    expect(refused.stderr).toContain('send the credentials in a header with a secret instead');
    const unknown = file('unknown.yaml', `      - name: poll\n        url: ${target.url}/poll\n        headers: { Authorization: "Bearer {{secrets.MISSING}}" }\n        schedule: { every: 1h }\n`);
    const missing = await tickwise(['apply', '-f', unknown], api());
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('jobs[0].endpoints[0].headers["Authorization"]: secret "MISSING" does not exist in this tenant: set it first (tickwise secrets set MISSING)');
    const onDatabase = await tickwise(['apply', '-f', unknown], { DATABASE_URL: fx.db.url });
    expect(onDatabase.code).toBe(2);
    expect(onDatabase.stderr).toContain('secret "MISSING" does not exist');
  });

  it('signing create/list/rotate/revoke over the API; a real node’s calls verify with standardwebhooks; secrets reach the target', async () => {
    const { job } = await fx.client(JobService, fx.a.keys.write).createJob({
      name: 'signed',
      endpoints: [spec('hook', `${target.url}/signed`, '300ms', { headers: { Authorization: 'Bearer {{secrets.TOKEN}}' } })],
    });
    expect((await fx.client(EndpointService, fx.a.keys.read).listEndpoints({ jobId: job!.id })).endpoints).toHaveLength(1);
    const created = await tickwise(['signing', 'create', '--endpoint', 'signed/hook'], api(fx.a.keys.admin));
    expect(created.code, created.stderr).toBe(0);
    const secret = created.stdout.trim();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(created.stderr).toMatch(/^created signing secret [0-9a-f-]{36} of endpoint signed\/hook; it is shown once, below: give it to the receiver now\n$/);
    expect((await tickwise(['signing', 'create', '--endpoint', 'signed/hook'], api())).stderr).toContain('permission_denied');

    const listed = await tickwise(['signing', 'list', '--endpoint', 'signed/hook'], api(fx.a.keys.read));
    expect(listed.stdout.split('\n')[0]).toBe('calls of endpoint signed/hook are signed with its own secrets');
    expect(tableRows(listed.stdout.split('\n').slice(1).join('\n'))[1]).toEqual([expect.stringMatching(/^[0-9a-f-]{36}$/), expect.stringMatching(/^(now|\ds ago)$/), 'active']);
    expect((await tickwise(['signing', 'list'], api(fx.a.keys.read))).stdout.trim()).toBe("calls of the tenant's endpoints without secrets of their own are not signed");

    const { node } = startNode(fx.db, { signingRefreshMs: 300, secretsKeys: keyring(OLD_KEY) });
    try {
      const call = await waitFor('a signed call', () => target.calls.find((each) => each.path === '/signed' && each.headers['webhook-signature']));
      expect(call.headers.authorization).toBe(`Bearer ${VALUE}`);
      new Webhook(secret).verify(call.body, call.headers as Record<string, string>);

      const rotated = await tickwise(['signing', 'rotate', '--endpoint', 'signed/hook', '--grace', '1h'], api(fx.a.keys.admin));
      expect(rotated.code, rotated.stderr).toBe(0);
      expect(rotated.stderr).toMatch(/keeps signing until \d{4}-\d\d-\d\dT[\d:]+Z \(in (59m|1h)\)/);
      const both = await waitFor('two signatures', () => target.calls.find((each) => each.path === '/signed' && String(each.headers['webhook-signature']).includes(' ')));
      for (const whsec of [secret, rotated.stdout.trim()]) new Webhook(whsec).verify(both.body, both.headers as Record<string, string>);
    } finally {
      await node.stop();
    }
    const id = tableRows((await tickwise(['signing', 'list', '--endpoint', 'signed/hook'], api(fx.a.keys.read))).stdout.split('\n').slice(1).join('\n'))[1]![0]!;
    expect(await tickwise(['signing', 'revoke', id], api(fx.a.keys.admin))).toMatchObject({ code: 0 });
    expect((await tickwise(['signing', 'revoke', 'nope'], api(fx.a.keys.admin))).code).toBe(2);
    expect((await tickwise(['signing', 'create'], api(fx.a.keys.admin))).stdout).toMatch(/^whsec_/);
    expect((await tickwise(['signing', 'list'], api(fx.a.keys.read))).stdout.split('\n')[0]).toBe("calls of the tenant's endpoints without secrets of their own are signed with the tenant's secrets");
  });

  it('a node without the key, or with another one, refuses to start naming it; rotate-key re-encrypts and the old key stops working', async () => {
    const db = { DATABASE_URL: fx.db.url, TICKWISE_OPS_PORT: 'off' };
    const noKey = await tickwise(['scheduler'], db);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain('error: TICKWISE_SECRETS_KEY is not set: the database holds 2 secrets that calls use, and a scheduler node decrypts them.');
    const old = keyring(OLD_KEY).current;
    const wrong = await tickwise(['gateway'], { ...db, TICKWISE_SECRETS_KEY: NEW_KEY, TICKWISE_GATEWAY_PORT: '1' });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain(`error: 2 secrets are encrypted with key ${old.id}, and this process holds TICKWISE_SECRETS_KEY (key ${keyring(NEW_KEY).current.id})`);
    const badKey = await tickwise(['scheduler'], { ...db, TICKWISE_SECRETS_KEY: 'not a key' });
    expect(badKey).toMatchObject({ code: 2, stderr: 'error: TICKWISE_SECRETS_KEY is not base64: it must be the base64 of 32 random bytes (make one with: openssl rand -base64 32)\n' });

    const rotated = await tickwise(['secrets', 'rotate-key'], { DATABASE_URL: fx.db.url, TICKWISE_SECRETS_KEY: NEW_KEY, TICKWISE_SECRETS_OLD_KEY: OLD_KEY });
    expect(rotated.stderr).toBe('');
    expect(rotated.stdout).toMatch(/^re-encrypted 2 secret\(s\) with key [0-9a-f]{16}; give every scheduler node/);
    expect((await allSealedSecrets(fx.db.pool)).every((row) => row.keyId === keyring(NEW_KEY).current.id)).toBe(true);
    const stale = await tickwise(['scheduler'], { ...db, TICKWISE_SECRETS_KEY: OLD_KEY });
    expect(stale.code).toBe(2);
    expect(stale.stderr).toContain(`2 secrets are encrypted with key ${keyring(NEW_KEY).current.id}, and this process holds TICKWISE_SECRETS_KEY (key ${old.id})`);
    expect((await tickwise(['secrets', 'rotate-key'], { DATABASE_URL: fx.db.url })).stderr).toMatch(/^error: TICKWISE_SECRETS_KEY is not set: the secrets are re-encrypted with it/);
  });
});
