import { inRange, parseIpAddress, type Ip } from './ip-address.ts';

/**
 * The address ranges a scheduler refuses to call unless an operator opts in
 * (TICKWISE_ALLOW_PRIVATE_TARGETS=true): whatever is not on the public internet, where a call
 * written by a tenant would reach the scheduler's own host, its cluster or its cloud's network
 * instead of the tenant's server. An IPv6 address that carries an IPv4 one (`embeddedIpv4`) is
 * judged by that IPv4 address as well.
 *
 * Left out on purpose: the documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24,
 * 2001:db8::/32), which route nowhere, so refusing them protects nothing (and the tests use them
 * as stand-ins for public hosts); NAT64 network-specific prefixes, which only the network knows
 * (deny them in TICKWISE_DENY_TARGETS); ISATAP interface ids, which no default stack tunnels.
 */
export type SpecialKind =
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'unique-local'
  | 'link-local'
  | 'site-local'
  | 'shared'
  | 'protocol-assignment'
  | 'benchmarking'
  | 'multicast'
  | 'reserved'
  | 'local-use-nat64';

export interface SpecialRange {
  readonly text: string;
  readonly kind: SpecialKind;
  readonly version: 4 | 6;
  readonly base: bigint;
  readonly prefix: number;
}

/** What a message calls an address of each kind ("host 10.0.0.1 is a private address"). */
export const SPECIAL_KIND_LABELS: Readonly<Record<SpecialKind, string>> = {
  unspecified: 'an unspecified address',
  loopback: 'a loopback address',
  private: 'a private address',
  'unique-local': 'a unique local (private) address',
  'link-local': 'a link-local address',
  'site-local': 'a site-local (private) address',
  shared: 'a carrier-grade NAT (shared) address',
  'protocol-assignment': 'an IETF protocol assignment address',
  benchmarking: 'a benchmarking address',
  multicast: 'a multicast address',
  reserved: 'a reserved address',
  'local-use-nat64': 'a local-use NAT64 address',
};

const RANGES: readonly [string, SpecialKind][] = [
  // 0.0.0.0 is where Linux sends a connection to "this host"; the rest of 0/8 is "this network".
  ['0.0.0.0/8', 'unspecified'],
  ['127.0.0.0/8', 'loopback'],
  ['10.0.0.0/8', 'private'],
  ['172.16.0.0/12', 'private'],
  ['192.168.0.0/16', 'private'],
  // Link-local: where cloud metadata services live, and node-local agents.
  ['169.254.0.0/16', 'link-local'],
  // Carrier-grade NAT space, which clusters and VPNs (Tailscale, some pod networks) use as private space.
  ['100.64.0.0/10', 'shared'],
  // DS-Lite, NAT64 discovery and other in-network services (RFC 6890).
  ['192.0.0.0/24', 'protocol-assignment'],
  // Benchmarking space, used as private space by some networks and proxies' fake-IP DNS.
  ['198.18.0.0/15', 'benchmarking'],
  ['224.0.0.0/4', 'multicast'],
  // Class E and the broadcast address: GKE and others use 240/4 for pods.
  ['240.0.0.0/4', 'reserved'],
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['fc00::/7', 'unique-local'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'site-local'],
  ['ff00::/8', 'multicast'],
  // Local-use NAT64 (RFC 8215): where the IPv4 address sits depends on the network's prefix length.
  ['64:ff9b:1::/48', 'local-use-nat64'],
];

export const SPECIAL_RANGES: readonly SpecialRange[] = RANGES.map(([text, kind]) => {
  const [address = '', prefix = ''] = text.split('/');
  const ip = parseIpAddress(address)!;
  return { text, kind, version: ip.version, base: ip.value, prefix: Number(prefix) };
});

/** The special range an address lies in, or null for a public address. Pure; executes nothing. */
export function specialRangeOf(ip: Ip): SpecialRange | null {
  return SPECIAL_RANGES.find((range) => inRange(ip, range.version, range.base, range.prefix)) ?? null;
}

/**
 * Names that always mean this host (RFC 6761 `localhost` and its subdomains; the names Debian and
 * Red Hat put in /etc/hosts), refused by name when an endpoint is written, before any lookup.
 */
export const LOOPBACK_NAMES: readonly string[] = ['localhost', 'localhost.localdomain', 'ip6-localhost', 'ip6-loopback'];

/** Whether a host name (lower case, no trailing dot) always means this host. Pure. */
export function isLoopbackName(host: string): boolean {
  return LOOPBACK_NAMES.includes(host) || host.endsWith('.localhost');
}

/**
 * Whether a connection to this address reaches this host itself: loopback, and the unspecified
 * addresses, which Linux connects to loopback (0.0.0.0 → 127.0.0.1, :: → ::1). Pure.
 */
export function reachesThisHost(ip: Ip): boolean {
  const kind = specialRangeOf(ip)?.kind;
  return kind === 'loopback' || kind === 'unspecified';
}

/** The loopback address of each family: what "this host" is matched as against deny rules. */
export const THIS_HOST: readonly Ip[] = [parseIpAddress('127.0.0.1')!, parseIpAddress('::1')!];

