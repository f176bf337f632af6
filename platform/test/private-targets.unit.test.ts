import { describe, expect, it } from 'vitest';
import { METADATA_CASES, metadataMessage, PRIVATE_CASES, PRIVATE_HINT, privateMessage, PUBLIC_SPELLINGS } from '../../test/support/target-addresses.ts';
import { TickwiseError } from '../src/errors.ts';
import { embeddedIpv4, formatIp, parseIpAddress } from '../src/ip-address.ts';
import { allowPrivateOrigin, checkResolvedAddress, checkTarget, DEFAULT_TARGET_POLICY, describeTargetPolicy, parseTargetPolicy, type TargetPolicy } from '../src/target-policy.ts';

const OPTED_IN = parseTargetPolicy({ allowPrivate: true });
const verdict = (url: string, policy: TargetPolicy) => {
  const result = checkTarget(url, policy);
  return result.allowed ? 'allowed' : result.message;
};
/** What a resolver hands back for a URL's host: the address as `new URL` wrote it, brackets off. */
const addressOf = (spelling: string) => new URL(`http://${spelling}/`).hostname.replace(/^\[|\]$/g, '');

describe('private and special addresses (the host of a URL)', () => {
  it.each(PRIVATE_CASES.map((item) => [item.spelling, item] as const))('%s: refused by default, naming the rule; allowed with TICKWISE_ALLOW_PRIVATE_TARGETS=true', (spelling, item) => {
    expect(verdict(`http://${spelling}:8080/x`, DEFAULT_TARGET_POLICY)).toBe(privateMessage(item));
    expect(verdict(`https://${spelling}/x`, parseTargetPolicy({ deny: '203.0.113.0/24' }))).toBe(privateMessage(item));
    expect(verdict(`http://${spelling}:8080/x`, OPTED_IN)).toBe('allowed');
  });

  it.each(METADATA_CASES.map((item) => [item.spelling, item] as const))('%s: cloud metadata, denied with and without the opt-in', (spelling, item) => {
    expect(verdict(`http://${spelling}/latest/`, DEFAULT_TARGET_POLICY)).toBe(metadataMessage(item));
    expect(verdict(`http://${spelling}/latest/`, OPTED_IN)).toBe(metadataMessage(item));
  });

  it.each(PUBLIC_SPELLINGS)('%s: public, allowed by default', (spelling) => {
    expect(verdict(`https://${spelling}/hook`, DEFAULT_TARGET_POLICY)).toBe('allowed');
  });

  it.each(['localhost', 'LOCALHOST', 'localhost.', 'api.localhost', 'localhost.localdomain', 'ip6-localhost', 'ip6-loopback'])('the name %s always means this host: refused when written, by name', (name) => {
    const host = name.toLowerCase().replace(/\.$/, '');
    expect(verdict(`http://${name}:9000/`, DEFAULT_TARGET_POLICY)).toBe(`target denied: host ${host} is a loopback name (${PRIVATE_HINT})`);
    expect(verdict(`http://${name}:9000/`, OPTED_IN)).toBe('allowed');
  });
});

describe('the addresses a name resolves to (connection time)', () => {
  const resolvedSpellings = (address: string) => [address, address.toUpperCase()];

  it.each(PRIVATE_CASES.map((item) => [addressOf(item.spelling), item] as const))('%s: refused by default, allowed with the opt-in', (address, item) => {
    for (const spelled of resolvedSpellings(address)) {
      const result = checkResolvedAddress('hooks.example.com', spelled, DEFAULT_TARGET_POLICY);
      expect(result.allowed ? 'allowed' : result.message).toBe(`target denied: hooks.example.com resolved to ${spelled}${item.judged.slice(address.length)}, which is ${item.label} (${PRIVATE_HINT})`);
      expect(checkResolvedAddress('hooks.example.com', spelled, OPTED_IN).allowed).toBe(true);
    }
  });

  it.each([
    ['::ffff:127.0.0.1', '::ffff:127.0.0.1 (IPv4-mapped 127.0.0.1)', 'a loopback address'],
    ['0:0:0:0:0:ffff:7f00:1', '0:0:0:0:0:ffff:7f00:1 (IPv4-mapped 127.0.0.1)', 'a loopback address'],
    ['64:ff9b::10.1.2.3', '64:ff9b::10.1.2.3 (NAT64 10.1.2.3)', 'a private address'],
    ['fe80::1%eth0', 'fe80::1%eth0', 'a link-local address'],
  ])('%s, as a resolver may spell it', (address, judged, label) => {
    const result = checkResolvedAddress('hooks.example.com', address, DEFAULT_TARGET_POLICY);
    expect(result.allowed ? 'allowed' : result.message).toBe(`target denied: hooks.example.com resolved to ${judged}, which is ${label} (${PRIVATE_HINT})`);
  });

  it.each(METADATA_CASES.filter((item) => item.spelling !== 'metadata.google.internal').map((item) => [addressOf(item.spelling), item] as const))('%s: cloud metadata, denied with the opt-in', (address, item) => {
    const result = checkResolvedAddress('rebound.example.com', address, OPTED_IN);
    expect(result.allowed ? 'allowed' : result.message).toBe(`target denied: rebound.example.com resolved to ${address}${item.judged.slice(address.length)}, which matches the built-in deny "${item.rule}" (cloud metadata)`);
  });
});

describe('TICKWISE_DENY_TARGETS=127.0.0.0/8 and what else reaches this host', () => {
  // Every spelling that reaches loopback, whatever the private setting: the deny list names this host.
  const bypasses = ['0', '0.0.0.0', '[::1]', '[::]', '127.1', '2130706433', '[::ffff:127.0.0.1]', '[::ffff:0.0.0.0]', '[::127.0.0.1]', '[64:ff9b::7f00:1]', '[2002:7f00:1::]', 'localhost', 'app.localhost'];
  for (const allowPrivate of [false, true]) {
    const policy = parseTargetPolicy({ deny: '127.0.0.0/8', allowPrivate });
    it.each(bypasses)(`%s is denied by the list (allowPrivate ${allowPrivate})`, (spelling) => {
      expect(verdict(`http://${spelling}:9090/metrics`, policy)).toMatch(/^target denied: host \S+( \([^)]+\))? (matches|reaches this host \(like 127\.0\.0\.1, which matches) TICKWISE_DENY_TARGETS entry "127\.0\.0\.0\/8"\)?$/);
    });
  }

  it('names how the address reaches this host', () => {
    const policy = parseTargetPolicy({ deny: '127.0.0.0/8', allowPrivate: true });
    expect(verdict('http://0/', policy)).toBe('target denied: host 0.0.0.0 reaches this host (like 127.0.0.1, which matches TICKWISE_DENY_TARGETS entry "127.0.0.0/8")');
    expect(verdict('http://[::]/', policy)).toBe('target denied: host :: reaches this host (like 127.0.0.1, which matches TICKWISE_DENY_TARGETS entry "127.0.0.0/8")');
    expect(verdict('http://[::ffff:7f00:1]/', policy)).toBe('target denied: host ::ffff:7f00:1 (IPv4-mapped 127.0.0.1) matches TICKWISE_DENY_TARGETS entry "127.0.0.0/8"');
    expect(checkResolvedAddress('localhost', '::1', policy)).toMatchObject({ allowed: false, message: 'target denied: localhost resolved to ::1, which reaches this host (like 127.0.0.1, which matches TICKWISE_DENY_TARGETS entry "127.0.0.0/8")' });
    // A rule on ::1 covers IPv4 loopback too; other private addresses stay allowed with the opt-in.
    expect(verdict('http://127.0.0.1/', parseTargetPolicy({ deny: '::1', allowPrivate: true }))).toBe('target denied: host 127.0.0.1 reaches this host (like ::1, which matches TICKWISE_DENY_TARGETS entry "::1")');
    expect(verdict('http://10.0.0.1/', policy)).toBe('allowed');
    expect(verdict('http://[64:ff9b::a00:1]/', parseTargetPolicy({ deny: '10.0.0.0/8', allowPrivate: true }))).toBe('target denied: host 64:ff9b::a00:1 (NAT64 10.0.0.1) matches TICKWISE_DENY_TARGETS entry "10.0.0.0/8"');
  });

  it('judges an embedded IPv4 address against the allow list too', () => {
    const policy = parseTargetPolicy({ allow: '8.8.8.0/24' });
    expect(verdict('http://[64:ff9b::8.8.8.8]/', policy)).toBe('allowed');
    expect(verdict('http://[64:ff9b::9.9.9.9]/', policy)).toBe('target denied: host 64:ff9b::909:909 (NAT64 9.9.9.9) is not in TICKWISE_ALLOW_TARGETS');
  });
});

describe('a private origin (tickwise dev\'s synthetic server)', () => {
  const dev = allowPrivateOrigin(parseTargetPolicy({ deny: '*.corp.example' }), 'http://127.0.0.1:8788');

  it('lets exactly that IP and port through the private refusal', () => {
    expect(verdict('http://127.0.0.1:8788/synthetic/health', dev)).toBe('allowed');
    expect(verdict('http://2130706433:8788/synthetic/echo', dev)).toBe('allowed');
    expect(verdict('http://127.0.0.1:8789/', dev)).toBe(`target denied: host 127.0.0.1 is a loopback address (${PRIVATE_HINT})`);
    expect(verdict('http://127.0.0.2:8788/', dev)).toBe(`target denied: host 127.0.0.2 is a loopback address (${PRIVATE_HINT})`);
    expect(verdict('http://localhost:8788/', dev)).toBe(`target denied: host localhost is a loopback name (${PRIVATE_HINT})`);
    expect(verdict('http://10.0.0.1:8788/', dev)).toBe(`target denied: host 10.0.0.1 is a private address (${PRIVATE_HINT})`);
    // Never at connection time, where there is no port to match.
    expect(checkResolvedAddress('dev.example.com', '127.0.0.1', dev).allowed).toBe(false);
    expect(describeTargetPolicy(dev)).toBe('allow any target; refuse private addresses except 127.0.0.1:8788; deny cloud metadata, *.corp.example');
  });

  it('keeps the deny list over it, and takes an IP literal only', () => {
    const denied = allowPrivateOrigin(parseTargetPolicy({ deny: '127.0.0.0/8' }), 'http://127.0.0.1:8788/');
    expect(verdict('http://127.0.0.1:8788/', denied)).toBe('target denied: host 127.0.0.1 matches TICKWISE_DENY_TARGETS entry "127.0.0.0/8"');
    expect(() => allowPrivateOrigin(DEFAULT_TARGET_POLICY, 'http://localhost:8788')).toThrow(TickwiseError);
    expect(() => allowPrivateOrigin(DEFAULT_TARGET_POLICY, 'ftp://127.0.0.1:21')).toThrow('a private origin must be an http(s) URL on an IP address, got "ftp://127.0.0.1:21"');
    expect(verdict('https://[::1]/', allowPrivateOrigin(DEFAULT_TARGET_POLICY, 'https://[::1]'))).toBe('allowed');
  });
});

describe('ip-address', () => {
  it.each([
    ['::ffff:1.2.3.4', 'IPv4-mapped', '1.2.3.4'],
    ['::ffff:0:1.2.3.4', 'IPv4-translated', '1.2.3.4'],
    ['::1.2.3.4', 'IPv4-compatible', '1.2.3.4'],
    ['64:ff9b::102:304', 'NAT64', '1.2.3.4'],
    ['2002:102:304:5::6', '6to4', '1.2.3.4'],
    ['2001:0:4136:e378:8000:63bf:fefd:fcfb', 'Teredo', '1.2.3.4'],
  ])('%s carries %s %s', (text, embedding, ipv4) => {
    const embedded = embeddedIpv4(parseIpAddress(text)!);
    expect(embedded && { embedding: embedded.embedding, ipv4: formatIp(embedded.ipv4) }).toEqual({ embedding, ipv4 });
  });

  it('leaves :: and ::1 and plain IPv6 alone, and reads zone ids off', () => {
    for (const text of ['::', '::1', '2606:4700::1111', '64:ff9b:1::a00:1']) expect(embeddedIpv4(parseIpAddress(text)!)).toBeNull();
    expect(formatIp(parseIpAddress('fe80::1%eth0')!)).toBe('fe80::1');
    expect(parseIpAddress('0x7f000001')).toBeNull();
  });
});
