/**
 * The addresses a scheduler must not call unless an operator opts in, in the spellings a tenant
 * could write them, for the tests of every path that judges a target (the pure policy, the
 * connection-time lookup, the dispatcher, the API, `tickwise apply`, notification URLs).
 */

export const PRIVATE_HINT = 'private targets are refused; TICKWISE_ALLOW_PRIVATE_TARGETS=true allows them';

export interface PrivateCase {
  /** The host as written in a URL. */
  spelling: string;
  /** The host the verdict names (what `new URL` makes of it, brackets off, with the IPv4 it carries). */
  judged: string;
  /** What the address is: `a loopback address`. */
  label: string;
}

const LOOPBACK = 'a loopback address';
const PRIVATE = 'a private address';

/** Refused by default, allowed with TICKWISE_ALLOW_PRIVATE_TARGETS=true. */
export const PRIVATE_CASES: readonly PrivateCase[] = [
  // Loopback, in every spelling `new URL` accepts (all become 127.0.0.1).
  { spelling: '127.0.0.1', judged: '127.0.0.1', label: LOOPBACK },
  { spelling: '127.255.255.254', judged: '127.255.255.254', label: LOOPBACK },
  { spelling: '2130706433', judged: '127.0.0.1', label: LOOPBACK },
  { spelling: '0x7f000001', judged: '127.0.0.1', label: LOOPBACK },
  { spelling: '0177.0.0.1', judged: '127.0.0.1', label: LOOPBACK },
  { spelling: '127.1', judged: '127.0.0.1', label: LOOPBACK },
  { spelling: '0x7f.1', judged: '127.0.0.1', label: LOOPBACK },
  { spelling: '127.0.0.1.', judged: '127.0.0.1', label: LOOPBACK },
  { spelling: '%31%32%37.0.0.1', judged: '127.0.0.1', label: LOOPBACK },
  { spelling: '１２７.０.０.１', judged: '127.0.0.1', label: LOOPBACK },
  { spelling: '[::1]', judged: '::1', label: LOOPBACK },
  { spelling: '[0:0:0:0:0:0:0:1]', judged: '::1', label: LOOPBACK },
  // IPv6 forms that carry an IPv4 address are judged by it.
  { spelling: '[::ffff:127.0.0.1]', judged: '::ffff:7f00:1 (IPv4-mapped 127.0.0.1)', label: LOOPBACK },
  { spelling: '[::FFFF:7F00:1]', judged: '::ffff:7f00:1 (IPv4-mapped 127.0.0.1)', label: LOOPBACK },
  { spelling: '[::127.0.0.1]', judged: '::7f00:1 (IPv4-compatible 127.0.0.1)', label: LOOPBACK },
  { spelling: '[::ffff:0:127.0.0.1]', judged: '::ffff:0:7f00:1 (IPv4-translated 127.0.0.1)', label: LOOPBACK },
  { spelling: '[64:ff9b::127.0.0.1]', judged: '64:ff9b::7f00:1 (NAT64 127.0.0.1)', label: LOOPBACK },
  { spelling: '[2002:7f00:1::]', judged: '2002:7f00:1:: (6to4 127.0.0.1)', label: LOOPBACK },
  { spelling: '[2001:0:4136:e378:8000:63bf:80ff:fffe]', judged: '2001:0:4136:e378:8000:63bf:80ff:fffe (Teredo 127.0.0.1)', label: LOOPBACK },
  // Unspecified: a connection to 0.0.0.0 or :: reaches this host.
  { spelling: '0', judged: '0.0.0.0', label: 'an unspecified address' },
  { spelling: '0.0.0.0', judged: '0.0.0.0', label: 'an unspecified address' },
  { spelling: '[::]', judged: '::', label: 'an unspecified address' },
  { spelling: '[::ffff:0.0.0.0]', judged: '::ffff:0:0 (IPv4-mapped 0.0.0.0)', label: 'an unspecified address' },
  // Private networks.
  { spelling: '10.0.0.1', judged: '10.0.0.1', label: PRIVATE },
  { spelling: '167772161', judged: '10.0.0.1', label: PRIVATE },
  { spelling: '172.16.0.1', judged: '172.16.0.1', label: PRIVATE },
  { spelling: '172.31.255.255', judged: '172.31.255.255', label: PRIVATE },
  { spelling: '192.168.1.1', judged: '192.168.1.1', label: PRIVATE },
  { spelling: '[::ffff:10.0.0.1]', judged: '::ffff:a00:1 (IPv4-mapped 10.0.0.1)', label: PRIVATE },
  { spelling: '[64:ff9b::10.0.0.1]', judged: '64:ff9b::a00:1 (NAT64 10.0.0.1)', label: PRIVATE },
  { spelling: '[2002:c0a8:101::1]', judged: '2002:c0a8:101::1 (6to4 192.168.1.1)', label: PRIVATE },
  { spelling: '[fd12:3456::1]', judged: 'fd12:3456::1', label: 'a unique local (private) address' },
  { spelling: '[fc00::1]', judged: 'fc00::1', label: 'a unique local (private) address' },
  { spelling: '[fec0::1]', judged: 'fec0::1', label: 'a site-local (private) address' },
  // Link-local (cloud metadata lives here), carrier-grade NAT, the other special-purpose ranges.
  { spelling: '169.254.1.1', judged: '169.254.1.1', label: 'a link-local address' },
  { spelling: '[fe80::1]', judged: 'fe80::1', label: 'a link-local address' },
  { spelling: '100.64.0.1', judged: '100.64.0.1', label: 'a carrier-grade NAT (shared) address' },
  { spelling: '[::ffff:100.127.255.254]', judged: '::ffff:647f:fffe (IPv4-mapped 100.127.255.254)', label: 'a carrier-grade NAT (shared) address' },
  { spelling: '192.0.0.8', judged: '192.0.0.8', label: 'an IETF protocol assignment address' },
  { spelling: '198.18.0.1', judged: '198.18.0.1', label: 'a benchmarking address' },
  { spelling: '224.0.0.1', judged: '224.0.0.1', label: 'a multicast address' },
  { spelling: '[ff02::1]', judged: 'ff02::1', label: 'a multicast address' },
  { spelling: '240.0.0.1', judged: '240.0.0.1', label: 'a reserved address' },
  { spelling: '4294967295', judged: '255.255.255.255', label: 'a reserved address' },
  { spelling: '[64:ff9b:1::a00:1]', judged: '64:ff9b:1::a00:1', label: 'a local-use NAT64 address' },
];

/** The verdict's message for a URL on this host. */
export function privateMessage(item: PrivateCase): string {
  return `target denied: host ${item.judged} is ${item.label} (${PRIVATE_HINT})`;
}

/** Cloud metadata, in several spellings: denied with or without the opt-in. `rule`: the built-in entry named. */
export const METADATA_CASES: readonly { spelling: string; judged: string; rule: string }[] = [
  { spelling: '169.254.169.254', judged: '169.254.169.254', rule: '169.254.169.254' },
  { spelling: '2852039166', judged: '169.254.169.254', rule: '169.254.169.254' },
  { spelling: '0xa9.0xfe.0xa9.0xfe', judged: '169.254.169.254', rule: '169.254.169.254' },
  { spelling: '[::ffff:169.254.169.254]', judged: '::ffff:a9fe:a9fe (IPv4-mapped 169.254.169.254)', rule: '169.254.169.254' },
  { spelling: '[64:ff9b::a9fe:a9fe]', judged: '64:ff9b::a9fe:a9fe (NAT64 169.254.169.254)', rule: '169.254.169.254' },
  { spelling: '[2002:a9fe:a9fe::1]', judged: '2002:a9fe:a9fe::1 (6to4 169.254.169.254)', rule: '169.254.169.254' },
  { spelling: '169.254.170.2', judged: '169.254.170.2', rule: '169.254.170.2' },
  { spelling: '[fd00:ec2::254]', judged: 'fd00:ec2::254', rule: 'fd00:ec2::254' },
  { spelling: '100.100.100.200', judged: '100.100.100.200', rule: '100.100.100.200' },
  { spelling: '168.63.129.16', judged: '168.63.129.16', rule: '168.63.129.16' },
  { spelling: 'metadata.google.internal', judged: 'metadata.google.internal', rule: 'metadata.google.internal' },
];

export function metadataMessage(item: (typeof METADATA_CASES)[number]): string {
  return `target denied: host ${item.judged} matches the built-in deny "${item.rule}" (cloud metadata)`;
}

/** Public: allowed by default. */
export const PUBLIC_SPELLINGS: readonly string[] = ['93.184.215.14', '8.8.8.8', '100.128.0.1', '172.32.0.1', '198.20.0.1', '[2606:4700::1111]', '[::ffff:8.8.8.8]', '[64:ff9b::8.8.8.8]', '[2002:808:808::1]', 'api.example.com'];
