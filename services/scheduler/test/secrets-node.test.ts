import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { addSigningSecret, setSecret } from '@tickwise/catalog';
import { DEFAULT_TENANT_ID } from '@tickwise/db';
import { SecretsKey, type SecretsKeyring } from '@tickwise/platform';
import { databaseText, PG_DUMP_AVAILABLE, spellingsOf } from '../../../test/support/dump.ts';
import { applyJob, endpointId, startNode, useDatabaseAndTarget } from '../../../test/support/scheduler.ts';
import { waitFor } from '../../../test/support/wait.ts';

const key = new SecretsKey(randomBytes(32));
const otherKey = new SecretsKey(randomBytes(32));
const ring = (current: SecretsKey | null): SecretsKeyring => ({ current, previous: null });

// Values with characters that need encoding in a URL and escaping in JSON, unique enough to search for.
const TOKEN = `tok_${randomBytes(12).toString('hex')}`;
const ACCOUNT = `acct ${randomBytes(6).toString('hex')}/&?`;
const PASSWORD = `pw"${randomBytes(9).toString('hex')}\\end`;

type RunRow = { status: string; error_kind: string | null; error_message: string | null; response_body: string | null };

describe('a scheduler node puts secrets into its calls and keeps them out of everything it stores', () => {
  // The target echoes what it received: headers, path and body. A careless node would store them.
  const env = useDatabaseAndTarget((call, response) => response.end(JSON.stringify({ path: call.path, authorization: call.headers.authorization, body: call.body })));

  async function runsOf(id: string): Promise<RunRow[]> {
    return (await env.db.pool.query<RunRow>('SELECT status, error_kind, error_message, response_body FROM runs WHERE endpoint_id = $1 ORDER BY id', [id])).rows;
  }

  it('sends the values the target needs (header, URL, body), signed over the body sent, and masks them in the captured body; none is in the database or the log', async () => {
    await setSecret(env.db.pool, ring(key), DEFAULT_TENANT_ID, 'TOKEN', TOKEN);
    await setSecret(env.db.pool, ring(key), DEFAULT_TENANT_ID, 'ACCOUNT', ACCOUNT);
    await setSecret(env.db.pool, ring(key), DEFAULT_TENANT_ID, 'PASSWORD', PASSWORD);
    await applyJob(env.db, 'vault', [
      {
        name: 'login',
        url: `${env.target.url}/accounts/{{secrets.ACCOUNT}}?token={{secrets.TOKEN}}`,
        method: 'POST',
        headers: { Authorization: 'Bearer {{secrets.TOKEN}}', 'X-Team': 'billing' },
        body: { user: 'ops', password: '{{secrets.PASSWORD}}', list: ['{{secrets.TOKEN}}'] },
        schedule: { every: '1h' },
      },
    ]);
    const id = await endpointId(env.db, 'vault', 'login');
    const signing = await addSigningSecret(env.db.pool, { endpointId: id });
    const { node, log } = startNode(env.db, { secretsKeys: ring(key) });
    const run = await waitFor('the run', async () => (await runsOf(id))[0]).finally(() => node.stop());

    const call = env.target.calls.find((each) => each.path.startsWith('/accounts/'))!;
    expect(call.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(call.headers['x-team']).toBe('billing');
    expect(call.path).toBe(`/accounts/${encodeURIComponent(ACCOUNT)}?token=${TOKEN}`);
    expect(JSON.parse(call.body)).toEqual({ user: 'ops', password: PASSWORD, list: [TOKEN] });
    // The signature covers the body as sent, values in; the official library verifies it.
    expect(new Webhook(signing.secret).verify(call.body, call.headers as Record<string, string>)).toEqual({ user: 'ops', password: PASSWORD, list: [TOKEN] });

    expect(run).toMatchObject({ status: 'succeeded', error_kind: null });
    const echoed = JSON.parse(run.response_body!) as { path: string; authorization: string; body: string };
    expect(echoed.authorization).toBe('Bearer ***');
    expect(echoed.path).toBe('/accounts/***?token=***');
    expect(JSON.parse(echoed.body)).toEqual({ user: 'ops', password: '***', list: ['***'] });

    const stored = await databaseText(env.db);
    expect(stored).toContain('{{secrets.TOKEN}}');
    if (PG_DUMP_AVAILABLE) expect(stored).toContain('COPY public.secrets');
    const lines = log.lines.join('\n');
    for (const value of [TOKEN, ACCOUNT, PASSWORD]) {
      for (const spelling of [...spellingsOf(value), encodeURIComponent(value), JSON.stringify(value).slice(1, -1)]) {
        expect(stored, `the database holds ${value} as ${spelling}`).not.toContain(spelling);
        expect(lines).not.toContain(spelling);
      }
    }
  });

  it('fails a call whose secret is gone or sealed with a key the node lacks (secret_missing), sending nothing and saying why', async () => {
    await setSecret(env.db.pool, ring(otherKey), DEFAULT_TENANT_ID, 'FOREIGN', 'foreign-value');
    await applyJob(env.db, 'broken', [
      { name: 'foreign', url: `${env.target.url}/foreign`, headers: { 'X-Key': '{{secrets.FOREIGN}}' }, schedule: { every: '1h' } },
      { name: 'gone', url: `${env.target.url}/gone?k={{secrets.GONE}}`, schedule: { every: '1h' } },
    ]).catch((error: Error) => {
      // The catalog refuses a reference to a secret that does not exist: write it the way an old row would be.
      expect(error.message).toContain('secret "GONE" does not exist');
    });
    await applyJob(env.db, 'broken', [
      { name: 'foreign', url: `${env.target.url}/foreign`, headers: { 'X-Key': '{{secrets.FOREIGN}}' }, schedule: { every: '1h' } },
      { name: 'gone', url: `${env.target.url}/gone?k={{secrets.FOREIGN}}`, schedule: { every: '1h' } },
    ]);
    const gone = await endpointId(env.db, 'broken', 'gone');
    await env.db.pool.query(`UPDATE endpoints SET spec = jsonb_set(spec, '{url}', to_jsonb($2::text)) WHERE id = $1`, [gone, `${env.target.url}/gone?k={{secrets.GONE}}`]);
    const foreign = await endpointId(env.db, 'broken', 'foreign');
    const { node } = startNode(env.db, { secretsKeys: ring(key) });
    const [foreignRun, goneRun] = await Promise.all(
      [foreign, gone].map((id) => waitFor(`the run of ${id}`, async () => (await runsOf(id))[0])),
    ).finally(() => node.stop());
    expect(foreignRun).toMatchObject({
      status: 'failed',
      error_kind: 'secret_missing',
      error_message: `not sent: secret "FOREIGN" is encrypted with key ${otherKey.id}; this process holds key ${key.id}`,
    });
    expect(goneRun).toMatchObject({ status: 'failed', error_kind: 'secret_missing', error_message: 'not sent: secret "GONE" does not exist in the endpoint\'s tenant (deleted, or not set yet)' });
    expect(env.target.calls.some((each) => each.path.startsWith('/foreign') || each.path.startsWith('/gone'))).toBe(false);
  });
});
