import { isIP } from 'node:net';

/** An IP address as a number: IPv4 in 32 bits, IPv6 in 128. */
export interface Ip {
  readonly version: 4 | 6;
  readonly value: bigint;
}

/**
 * How an IPv6 address carries an IPv4 one that a connection to it ends up reaching:
 * - `IPv4-mapped` `::ffff:a.b.c.d`: a dual-stack socket connects over IPv4 to a.b.c.d itself;
 * - `IPv4-translated` `::ffff:0:a.b.c.d` (SIIT, RFC 7915) and `IPv4-compatible` `::a.b.c.d`
 *   (deprecated, still parsed by stacks and tunnels);
 * - `NAT64` `64:ff9b::a.b.c.d` (the well-known prefix, RFC 6052): the network's NAT64 gateway
 *   forwards to a.b.c.d, so a scheduler in an IPv6-only cluster reaches the IPv4 host;
 * - `6to4` `2002:AABB:CCDD::/48` (RFC 3056): the relay sends to AA.BB.CC.DD;
 * - `Teredo` `2001:0::/32` (RFC 4380): the client's address, stored inverted in the last 32 bits.
 */
export type Embedding = 'IPv4-mapped' | 'IPv4-translated' | 'IPv4-compatible' | 'NAT64' | '6to4' | 'Teredo';

export interface EmbeddedIpv4 {
  readonly embedding: Embedding;
  readonly ipv4: Ip;
}

const LOW_32 = 0xffffffffn;
const NAT64_WELL_KNOWN = 0x0064ff9b_0000_0000_0000_0000n; // 64:ff9b::/96, shifted right by 32
const TEREDO = 0x2001_0000n; // 2001:0::/32, shifted right by 96
const SIX_TO_FOUR = 0x2002n; // 2002::/16, shifted right by 112

/**
 * Parses an IP address as `net.isIP` accepts it (dotted quad; any IPv6 form, an IPv4 tail
 * included). A zone id (`fe80::1%eth0`, as a resolver may return) is dropped. IPv6 stays IPv6:
 * `embeddedIpv4` says which IPv4 address it carries. Null for anything else. Pure; executes nothing.
 */
export function parseIpAddress(text: string): Ip | null {
  const bare = text.includes('%') ? text.slice(0, text.indexOf('%')) : text;
  const version = isIP(bare);
  if (version === 4) return { version: 4, value: parseV4(bare) };
  if (version !== 6) return null;
  let head = bare;
  let tailV4: bigint | null = null;
  const lastColon = bare.lastIndexOf(':');
  if (bare.slice(lastColon + 1).includes('.')) {
    tailV4 = parseV4(bare.slice(lastColon + 1));
    head = `${bare.slice(0, lastColon + 1)}0:0`;
  }
  const [left = '', right] = head.split('::');
  const groupsOf = (part: string) => (part === '' ? [] : part.split(':'));
  const leftGroups = groupsOf(left);
  const rightGroups = right === undefined ? [] : groupsOf(right);
  const groups = [...leftGroups, ...Array<string>(8 - leftGroups.length - rightGroups.length).fill('0'), ...rightGroups];
  let value = groups.reduce((sum, group) => (sum << 16n) | BigInt(parseInt(group, 16)), 0n);
  if (tailV4 !== null) value = (value & ~LOW_32) | tailV4;
  return { version: 6, value };
}

function parseV4(text: string): bigint {
  return text.split('.').reduce((sum, part) => (sum << 8n) | BigInt(Number(part)), 0n);
}

/**
 * The IPv4 address an IPv6 address embeds (see `Embedding`), or null. `::` and `::1` are not
 * IPv4-compatible addresses: they are IPv6's own unspecified and loopback addresses.
 * Pure; executes nothing.
 */
export function embeddedIpv4(ip: Ip): EmbeddedIpv4 | null {
  if (ip.version !== 6) return null;
  const v4 = (value: bigint): Ip => ({ version: 4, value: value & LOW_32 });
  const high96 = ip.value >> 32n;
  if (high96 === 0xffffn) return { embedding: 'IPv4-mapped', ipv4: v4(ip.value) };
  if (high96 === 0xffff_0000n) return { embedding: 'IPv4-translated', ipv4: v4(ip.value) };
  if (high96 === 0n && ip.value > 1n) return { embedding: 'IPv4-compatible', ipv4: v4(ip.value) };
  if (high96 === NAT64_WELL_KNOWN) return { embedding: 'NAT64', ipv4: v4(ip.value) };
  if (ip.value >> 112n === SIX_TO_FOUR) return { embedding: '6to4', ipv4: v4(ip.value >> 80n) };
  if (ip.value >> 96n === TEREDO) return { embedding: 'Teredo', ipv4: v4(~ip.value) };
  return null;
}

/** The address with the host bits past `prefix` cleared. Pure. */
export function maskIp(value: bigint, bits: number, prefix: number): bigint {
  const hostBits = BigInt(bits - prefix);
  return (value >> hostBits) << hostBits;
}

/** Whether `ip` lies in the range `base/prefix` of the same version. Pure. */
export function inRange(ip: Ip, version: 4 | 6, base: bigint, prefix: number): boolean {
  return ip.version === version && maskIp(ip.value, version === 4 ? 32 : 128, prefix) === base;
}

/** Dotted quad, or RFC 5952 IPv6 (lower case, the longest run of zero groups as `::`). Pure. */
export function formatIp(ip: Ip): string {
  const { version, value } = ip;
  if (version === 4) return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
  const groups = Array.from({ length: 8 }, (_, index) => Number((value >> BigInt(112 - index * 16)) & 0xffffn));
  let best = { start: -1, length: 1 };
  for (let start = 0; start < 8; start++) {
    let length = 0;
    while (start + length < 8 && groups[start + length] === 0) length++;
    if (length > best.length) best = { start, length };
  }
  const hex = groups.map((group) => group.toString(16));
  if (best.start < 0) return hex.join(':');
  return `${hex.slice(0, best.start).join(':')}::${hex.slice(best.start + best.length).join(':')}`;
}
