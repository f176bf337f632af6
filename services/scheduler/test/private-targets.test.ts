import { describe, expect, it } from 'vitest';
import { DEFAULT_TARGET_POLICY, parseTargetPolicy } from '@tickwise/platform';
import { applyJob, endpointId, startNode, useDatabaseAndTarget } from '../../../test/support/scheduler.ts';
import { METADATA_CASES, PRIVATE_CASES, PRIVATE_HINT, privateMessage } from '../../../test/support/target-addresses.ts';
import { fakeResolver, TEST_TARGET_POLICY } from '../../../test/support/targets.ts';
import { waitFor } from '../../../test/support/wait.ts';
import { Dispatcher } from '../src/dispatcher.ts';

const never = new AbortController().signal;
const get = (dispatcher: Dispatcher, url: string) => dispatcher.call({ url, method: 'GET', headers: {}, timeoutMs: 5_000 }, never);
/** What a resolver hands back for a URL's host: the address as `new URL` wrote it, brackets off. */
const addressOf = (spelling: string) => new URL(`http://${spelling}/`).hostname.replace(/^\[|\]$/g, '');
/** The spellings that reach the test target on 127.0.0.1 when nothing refuses them. */
const REACH_TARGET = ['127.0.0.1', '2130706433', '0x7f000001', '0177.0.0.1', '127.1', '0x7f.1', '127.0.0.1.', '0', '0.0.0.0', '[::ffff:127.0.0.1]', '[::ffff:0.0.0.0]'];

describe('private targets at dispatch (the default policy)', () => {
  const env = useDatabaseAndTarget();

  it('refuses every spelling of a private address before connecting, naming the rule; with the opt-in the loopback ones really reach the target', async () => {
    const port = new URL(env.target.url).port;
    const strict = new Dispatcher();
    const results = await Promise.all(PRIVATE_CASES.map((item) => get(strict, `http://${item.spelling}:${port}/private`)));
    results.forEach((result, index) => {
      expect(result, PRIVATE_CASES[index]!.spelling).toMatchObject({ status: 'failed', errorKind: 'target_denied', httpStatus: null, errorMessage: privateMessage(PRIVATE_CASES[index]!) });
    });
    expect(env.target.calls.filter((call) => call.path === '/private')).toEqual([]);

    // What the refusal protects: each of these spellings is a working way to loopback.
    const opted = new Dispatcher({ policy: TEST_TARGET_POLICY });
    for (const spelling of REACH_TARGET) expect(await get(opted, `http://${spelling}:${port}/opted-in`), spelling).toMatchObject({ status: 'succeeded', httpStatus: 200 });
    expect(env.target.calls.filter((call) => call.path === '/opted-in')).toHaveLength(REACH_TARGET.length);
    await Promise.all([strict.close(), opted.close()]);
  });

  it('refuses a name resolving to any private address when connecting; with the opt-in it connects; metadata never', async () => {
    const port = new URL(env.target.url).port;
    const addresses = [...new Map(PRIVATE_CASES.map((item) => [addressOf(item.spelling), item])).entries()];
    const resolve = fakeResolver({ ...Object.fromEntries(addresses.map(([address], index) => [`host-${index}.example.test`, ['93.184.215.14', address]])), 'loop.example.test': ['127.0.0.1'] });
    const strict = new Dispatcher({ resolve });
    const results = await Promise.all(addresses.map((_, index) => get(strict, `http://host-${index}.example.test:${port}/resolved`)));
    results.forEach((result, index) => {
      const [, item] = addresses[index]!;
      expect(result, item.spelling).toMatchObject({ status: 'failed', errorKind: 'target_denied', httpStatus: null, errorMessage: `target denied: host-${index}.example.test resolved to ${item.judged}, which is ${item.label} (${PRIVATE_HINT})` });
    });
    expect(await get(strict, `http://loop.example.test:${port}/resolved`)).toMatchObject({ errorKind: 'target_denied', errorMessage: `target denied: loop.example.test resolved to 127.0.0.1, which is a loopback address (${PRIVATE_HINT})` });
    expect(env.target.calls.filter((call) => call.path === '/resolved')).toEqual([]);

    const opted = new Dispatcher({ policy: TEST_TARGET_POLICY, resolve });
    expect(await get(opted, `http://loop.example.test:${port}/resolved-opted-in`)).toMatchObject({ status: 'succeeded', httpStatus: 200 });
    const metadata = METADATA_CASES.filter((item) => !item.spelling.includes('google')).map((item) => addressOf(item.spelling));
    const toMetadata = new Dispatcher({ policy: TEST_TARGET_POLICY, resolve: fakeResolver(Object.fromEntries(metadata.map((address, index) => [`meta-${index}.example.test`, [address]]))) });
    for (const [index, address] of metadata.entries()) {
      const result = await get(toMetadata, `http://meta-${index}.example.test/latest/`);
      expect(result.errorMessage, address).toMatch(new RegExp(`^target denied: meta-${index}\\.example\\.test resolved to ${address.replace(/[.]/g, '\\.')}.*, which matches the built-in deny ".+" \\(cloud metadata\\)$`));
    }
    await Promise.all([strict.close(), opted.close(), toMetadata.close()]);
  });

  it('a node on the default policy records a call to a private target as a failed target_denied run, sending nothing', async () => {
    // Written with the opt-in (as by a catalog before this check, or by hand): the node still refuses it.
    await applyJob(env.db, 'private', [{ name: 'loopback', url: `${env.target.url}/node-private`, schedule: { every: '1s' } }]);
    const id = await endpointId(env.db, 'private', 'loopback');
    const { node } = startNode(env.db, { targetPolicy: DEFAULT_TARGET_POLICY });
    const run = await waitFor('a recorded run', async () => (await env.db.pool.query('SELECT status, error_kind, error_message, http_status FROM runs WHERE endpoint_id = $1', [id])).rows[0]);
    await node.stop();
    expect(run).toEqual({ status: 'failed', error_kind: 'target_denied', http_status: null, error_message: `target denied: host 127.0.0.1 is a loopback address (${PRIVATE_HINT})` });
    expect(env.target.calls.filter((call) => call.path === '/node-private')).toEqual([]);
  });

  it('TICKWISE_DENY_TARGETS=127.0.0.0/8 with the opt-in: 0.0.0.0, [::], [::1] and the mapped forms no longer reach loopback', async () => {
    const port = new URL(env.target.url).port;
    const dispatcher = new Dispatcher({ policy: parseTargetPolicy({ deny: '127.0.0.0/8', allowPrivate: true }) });
    for (const spelling of ['0', '0.0.0.0', '[::]', '[::1]', '[::ffff:127.0.0.1]', '[::ffff:0.0.0.0]', '2130706433', '127.1']) {
      const result = await get(dispatcher, `http://${spelling}:${port}/bypass`);
      expect(result, spelling).toMatchObject({ errorKind: 'target_denied', errorMessage: expect.stringContaining('TICKWISE_DENY_TARGETS entry "127.0.0.0/8"') });
    }
    expect(env.target.calls.filter((call) => call.path === '/bypass')).toEqual([]);
    await dispatcher.close();
  });
});
