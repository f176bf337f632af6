import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyJobs, checkSecretsKeys, createEndpoint, deleteSecret, listSecrets, rotateSecretsKey, setSecret, updateEndpoint } from '@tickwise/catalog';
import { allSealedSecrets, DEFAULT_TENANT_ID, insertTenant, newId } from '@tickwise/db';
import { endpointInputSchema, toEndpointSpec } from '@tickwise/machines';
import { openSecret, SecretsKey, TickwiseError, type SecretsKeyring } from '@tickwise/platform';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';

const keyA = new SecretsKey(randomBytes(32));
const keyB = new SecretsKey(randomBytes(32));
const ring = (current: SecretsKey | null, previous: SecretsKey | null = null): SecretsKeyring => ({ current, previous });

async function refusal(run: () => Promise<unknown>): Promise<TickwiseError> {
  try {
    await run();
  } catch (error) {
    expect(error).toBeInstanceOf(TickwiseError);
    return error as TickwiseError;
  }
  throw new Error('expected a TickwiseError');
}

const endpoint = (name: string, extra: Record<string, unknown>) => endpointInputSchema.parse({ name, url: 'http://192.0.2.1:1/x', schedule: { every: '1h' }, ...extra });

describe('secrets in the catalog', () => {
  let db: TestDatabase;
  let other: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    other = (await insertTenant(db.pool, { id: newId(), name: 'other' }))!.id;
  });
  afterAll(async () => db?.drop());

  it('sets, replaces, lists and deletes secrets of one tenant; the database holds only ciphertext', async () => {
    const first = await setSecret(db.pool, ring(keyA), DEFAULT_TENANT_ID, 'TOKEN', 'tok-value-1');
    expect(first.created).toBe(true);
    const again = await setSecret(db.pool, ring(keyA), DEFAULT_TENANT_ID, 'TOKEN', 'tok-value-2');
    expect(again.created).toBe(false);
    expect(again.secret.updatedAt.getTime()).toBeGreaterThan(first.secret.updatedAt.getTime());
    await setSecret(db.pool, ring(keyA), other, 'TOKEN', 'other-tenant-value');
    expect((await listSecrets(db.pool, DEFAULT_TENANT_ID)).map((row) => row.name)).toEqual(['TOKEN']);
    const { rows } = await db.pool.query<{ all: string }>("SELECT string_agg(s::text, ' ') AS all FROM secrets s");
    expect(rows[0]!.all).not.toContain('tok-value');
    expect(rows[0]!.all).not.toContain(Buffer.from('tok-value').toString('hex'));

    expect((await refusal(() => setSecret(db.pool, ring(keyA), DEFAULT_TENANT_ID, 'bad name', 'x'))).message).toBe('name: must be 1-63 letters, digits, "_" or "-", starting with a letter, got "bad name"');
    expect((await refusal(() => setSecret(db.pool, ring(keyA), DEFAULT_TENANT_ID, 'T', 'two\nlines'))).message).toBe('value: must be one line: no line break or NUL character (a value may stand in a header)');
    expect((await refusal(() => setSecret(db.pool, ring(keyA), DEFAULT_TENANT_ID, 'T', 'x'.repeat(8_193)))).message).toBe('value: must be at most 8192 bytes (UTF-8), got 8193');
    const noKey = await refusal(() => setSecret(db.pool, ring(null), DEFAULT_TENANT_ID, 'T', 'x'));
    expect(noKey).toMatchObject({ code: 'failed_precondition', reason: 'secrets_key_missing' });
    expect(noKey.message).toContain('TICKWISE_SECRETS_KEY');

    await deleteSecret(db.pool, other, 'TOKEN');
    expect(await listSecrets(db.pool, other)).toEqual([]);
    expect(await refusal(() => deleteSecret(db.pool, other, 'TOKEN'))).toMatchObject({ code: 'not_found', message: 'secret "TOKEN" does not exist' });
  });

  it('refuses endpoints that reference a secret the tenant lacks, naming the field and the name, on every write path', async () => {
    const uses = endpoint('uses', { headers: { Authorization: 'Bearer {{secrets.TOKEN}}' } });
    const missing = endpoint('missing', { method: 'POST', headers: { 'X-Key': '{{secrets.NOPE}}' }, body: { a: ['{{secrets.NOPE}}'] } });
    await applyJobs(db.pool, [{ name: 'shop', synthetic: false, endpoints: [uses] }]);
    const applied = await refusal(() => applyJobs(db.pool, [{ name: 'shop', synthetic: false, endpoints: [uses, missing] }]));
    expect(applied.code).toBe('invalid_argument');
    expect(applied.violations).toEqual([
      { field: 'jobs[0].endpoints[1].headers["X-Key"]', reason: 'secret "NOPE" does not exist in this tenant: set it first (tickwise secrets set NOPE)' },
      { field: 'jobs[0].endpoints[1].body.a[0]', reason: 'secret "NOPE" does not exist in this tenant: set it first (tickwise secrets set NOPE)' },
    ]);
    // Another tenant's secret of that name does not count.
    const elsewhere = await refusal(() => applyJobs(db.pool, [{ name: 'shop', synthetic: false, endpoints: [uses] }], { tenantId: other }));
    expect(elsewhere.violations.map((v) => v.field)).toEqual(['jobs[0].endpoints[0].headers["Authorization"]']);
    const { rows } = await db.pool.query<{ job_id: string }>("SELECT job_id FROM endpoints WHERE name = 'uses'");
    expect((await refusal(() => createEndpoint(db.pool, DEFAULT_TENANT_ID, rows[0]!.job_id, missing))).violations[0]!.field).toBe('headers["X-Key"]');
    const { rows: ids } = await db.pool.query<{ id: string }>("SELECT id FROM endpoints WHERE name = 'uses'");
    expect((await refusal(() => updateEndpoint(db.pool, DEFAULT_TENANT_ID, ids[0]!.id, toEndpointSpec({ ...missing, name: 'uses' })))).violations[0]!.field).toBe('headers["X-Key"]');

    const inUse = await refusal(() => deleteSecret(db.pool, DEFAULT_TENANT_ID, 'TOKEN'));
    expect(inUse).toMatchObject({ code: 'failed_precondition', reason: 'secret_in_use', message: 'secret "TOKEN" is used by endpoint shop/uses: remove {{secrets.TOKEN}} from it first' });
  });

  it('checks at start that every secret is under a key the process holds', async () => {
    expect(await checkSecretsKeys(db.pool, ring(keyA), { decrypts: true })).toEqual({ secrets: 1 });
    expect(await checkSecretsKeys(db.pool, ring(null), { decrypts: false })).toEqual({ secrets: 1 });
    const none = await refusal(() => checkSecretsKeys(db.pool, ring(null), { decrypts: true }));
    expect(none).toMatchObject({ code: 'invalid_config', reason: 'secrets_key_missing' });
    expect(none.message).toMatch(/^TICKWISE_SECRETS_KEY is not set: the database holds 1 secret that calls use, and a scheduler node decrypts them\./);
    const wrong = await refusal(() => checkSecretsKeys(db.pool, ring(keyB), { decrypts: false }));
    expect(wrong.message).toBe(
      `1 secret is encrypted with key ${keyA.id}, and this process holds TICKWISE_SECRETS_KEY (key ${keyB.id}): give this process the key they were written with (as TICKWISE_SECRETS_OLD_KEY during a rotation), or re-encrypt them with "tickwise secrets rotate-key"`,
    );
  });

  it('rotates the key: every value re-encrypted in one go, opened by the new key only', async () => {
    await setSecret(db.pool, ring(keyA), other, 'SECOND', 'second-value');
    const before = await listSecrets(db.pool, DEFAULT_TENANT_ID);
    const refused = await refusal(() => rotateSecretsKey(db.pool, ring(keyB)));
    expect(refused).toMatchObject({ code: 'invalid_config', reason: 'secrets_key_mismatch' });
    expect((await allSealedSecrets(db.pool)).every((row) => row.keyId === keyA.id)).toBe(true);

    expect(await rotateSecretsKey(db.pool, ring(keyB, keyA))).toEqual({ reencrypted: 2, unchanged: 0, keyId: keyB.id });
    const rows = await allSealedSecrets(db.pool);
    expect(rows.map((row) => [row.name, row.keyId])).toEqual(expect.arrayContaining([['TOKEN', keyB.id], ['SECOND', keyB.id]]));
    expect(rows.map((row) => openSecret([keyB], row.tenantId, row.name, row)).sort()).toEqual(['second-value', 'tok-value-2']);
    expect(() => openSecret([keyA], rows[0]!.tenantId, rows[0]!.name, rows[0]!)).toThrow(/is encrypted with key/);
    expect((await listSecrets(db.pool, DEFAULT_TENANT_ID))[0]!.updatedAt).toEqual(before[0]!.updatedAt);
    expect(await rotateSecretsKey(db.pool, ring(keyB))).toEqual({ reencrypted: 0, unchanged: 2, keyId: keyB.id });
    expect((await refusal(() => checkSecretsKeys(db.pool, ring(keyA), { decrypts: true }))).reason).toBe('secrets_key_mismatch');
  });
});
