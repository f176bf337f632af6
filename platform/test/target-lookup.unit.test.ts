import type { LookupAddress } from 'node:dns';
import { describe, expect, it } from 'vitest';
import { TickwiseError } from '../src/errors.ts';
import { METADATA_CASES, PRIVATE_CASES, PRIVATE_HINT } from '../../test/support/target-addresses.ts';
import { DEFAULT_TARGET_POLICY, parseTargetPolicy, type TargetPolicy } from '../src/target-policy.ts';
import { policyLookup } from '../src/target-lookup.ts';

describe('policyLookup (the target policy on every resolved address, when connecting)', () => {
  const policy = parseTargetPolicy({ allow: 'hooks.example.com, 192.0.2.0/24', deny: '127.0.0.0/8, ::1' });

  const fakeResolver = (answers: Record<string, LookupAddress[]>) =>
    ((hostname: string, _options: unknown, callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => {
      const found = answers[hostname];
      if (!found) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), []);
      callback(null, found);
    }) as unknown as typeof import('node:dns').lookup;

  function look(hostname: string, all: boolean, resolver: ReturnType<typeof fakeResolver>, by: TargetPolicy = policy): Promise<{ error: Error | null; address: unknown; family?: number }> {
    return new Promise((resolve) => policyLookup(by, resolver)(hostname, { all }, (error, address, family) => resolve({ error, address, family })));
  }

  it('refuses a name when any of its addresses is denied, and passes the others through in both lookup forms', async () => {
    const resolver = fakeResolver({
      'hooks.example.com': [{ address: '203.0.113.9', family: 4 }, { address: '2001:db8::9', family: 6 }],
      'rebound.example.com': [{ address: '192.0.2.10', family: 4 }, { address: '127.0.0.1', family: 4 }],
    });
    expect(await look('hooks.example.com', true, resolver)).toMatchObject({ error: null, address: [{ address: '203.0.113.9', family: 4 }, { address: '2001:db8::9', family: 6 }] });
    expect(await look('hooks.example.com', false, resolver)).toMatchObject({ error: null, address: '203.0.113.9', family: 4 });
    const refused = await look('rebound.example.com', true, resolver);
    expect(refused.error).toBeInstanceOf(TickwiseError);
    expect(refused.error).toMatchObject({ code: 'permission_denied', reason: 'target_denied', message: 'target denied: rebound.example.com resolved to 127.0.0.1, which matches TICKWISE_DENY_TARGETS entry "127.0.0.0/8"' });
    expect((await look('missing.example.com', false, resolver)).error).toMatchObject({ code: 'ENOTFOUND' });
    expect((await look('empty.example.com', false, fakeResolver({ 'empty.example.com': [] }))).error).toMatchObject({ code: 'ENOTFOUND' });
  });

  // Every private address, as a resolver returns it (brackets off), behind a public one: the name is refused.
  const addressOf = (spelling: string) => new URL(`http://${spelling}/`).hostname.replace(/^\[|\]$/g, '');
  const addresses = [...new Map(PRIVATE_CASES.map((item) => [addressOf(item.spelling), item])).entries()];
  it.each(addresses)('refuses a name that resolves to %s by default, and lets it through with the opt-in', async (address, item) => {
    const family = address.includes(':') ? 6 : 4;
    const resolver = fakeResolver({ 'rebound.example.com': [{ address: '93.184.215.14', family: 4 }, { address, family }] });
    const refused = await look('rebound.example.com', true, resolver, DEFAULT_TARGET_POLICY);
    expect(refused.error).toMatchObject({ code: 'permission_denied', reason: 'target_denied', message: `target denied: rebound.example.com resolved to ${item.judged}, which is ${item.label} (${PRIVATE_HINT})` });
    expect((await look('rebound.example.com', false, resolver, DEFAULT_TARGET_POLICY)).error).toMatchObject({ reason: 'target_denied' });
    expect(await look('rebound.example.com', true, resolver, parseTargetPolicy({ allowPrivate: true }))).toMatchObject({ error: null, address: [{ address: '93.184.215.14' }, { address }] });
  });

  it.each(METADATA_CASES.filter((item) => !item.spelling.includes('google')).map((item) => [addressOf(item.spelling), item] as const))('refuses a name that resolves to metadata %s, opt-in or not', async (address, item) => {
    const resolver = fakeResolver({ 'rebound.example.com': [{ address, family: address.includes(':') ? 6 : 4 }] });
    const refused = await look('rebound.example.com', false, resolver, parseTargetPolicy({ allowPrivate: true }));
    expect(refused.error).toMatchObject({ reason: 'target_denied', message: `target denied: rebound.example.com resolved to ${item.judged}, which matches the built-in deny "${item.rule}" (cloud metadata)` });
  });
});
