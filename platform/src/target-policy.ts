import { isIP } from 'node:net';
import { TickwiseError } from './errors.ts';

/**
 * Which hosts outbound calls may reach. Deny rules always win; when an allow list is set, a target
 * must also match it. Rules are host names (`api.example.com`), wildcards (`*.example.com`: any
 * subdomain, not the name itself), IP addresses and CIDRs, IPv4 and IPv6. Ports are not part of a
 * rule. Checked twice: on the URL's host (`checkTarget`, at apply time and before a call), and on
 * every address a name resolves to, when the connection is made (the dispatcher's `policyLookup`), so a name that
 * resolves (or is re-pointed) to a denied address is refused.
 */
export interface TargetPolicy {
  /** `null`: every target not denied may be called. */
  readonly allow: readonly TargetRule[] | null;
  /** The built-in cloud metadata denies first, then TICKWISE_DENY_TARGETS. */
  readonly deny: readonly TargetRule[];
}

export type RuleSource = 'built-in' | 'TICKWISE_ALLOW_TARGETS' | 'TICKWISE_DENY_TARGETS';

export type TargetRule =
  | { readonly kind: 'name'; readonly text: string; readonly source: RuleSource; readonly name: string }
  | { readonly kind: 'wildcard'; readonly text: string; readonly source: RuleSource; readonly suffix: string }
  | { readonly kind: 'cidr'; readonly text: string; readonly source: RuleSource; readonly version: 4 | 6; readonly base: bigint; readonly prefix: number };

export type TargetVerdict = { allowed: true } | { allowed: false; rule: string; message: string };

/**
 * Cloud instance metadata services: AWS/GCP/Azure/OpenStack (169.254.169.254), AWS ECS task
 * metadata (169.254.170.2), AWS IMDS over IPv6 (fd00:ec2::254), GCP's name for it, Alibaba Cloud
 * (100.100.100.200). Denied whatever the settings: a scheduler that calls URLs written by others
 * must never hand out its own cloud credentials. Nothing else is denied by default: the one-command
 * dev setup calls targets on localhost (see docs/webhooks.md for a production deny list).
 */
export const BUILT_IN_DENIED_TARGETS = ['169.254.169.254', '169.254.170.2', 'fd00:ec2::254', 'metadata.google.internal', '100.100.100.200'] as const;

/** One label of a host name (underscores are tolerated: some internal names have them). */
const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

const BUILT_IN_DENY: readonly TargetRule[] = BUILT_IN_DENIED_TARGETS.map((entry) => parseEntry(entry, 'built-in'));

/** The policy with no settings: only the built-in cloud metadata denies. */
export const DEFAULT_TARGET_POLICY: TargetPolicy = { allow: null, deny: BUILT_IN_DENY };

/**
 * Builds a policy from the comma-separated lists of TICKWISE_ALLOW_TARGETS and TICKWISE_DENY_TARGETS.
 * Empty entries are skipped; an unset or empty allow list means no allow list. Throws
 * TickwiseError `invalid_config` naming the variable and the entry. Pure; executes nothing.
 */
export function parseTargetPolicy(lists: { allow?: string | undefined; deny?: string | undefined }): TargetPolicy {
  const allow = parseList(lists.allow, 'TICKWISE_ALLOW_TARGETS');
  const deny = parseList(lists.deny, 'TICKWISE_DENY_TARGETS');
  if (allow.length === 0 && deny.length === 0) return DEFAULT_TARGET_POLICY;
  return { allow: allow.length > 0 ? allow : null, deny: [...BUILT_IN_DENY, ...deny] };
}

/** `parseTargetPolicy` over a process environment. Pure; executes nothing. */
export function targetPolicyFromEnv(env: NodeJS.ProcessEnv): TargetPolicy {
  return parseTargetPolicy({ allow: env.TICKWISE_ALLOW_TARGETS, deny: env.TICKWISE_DENY_TARGETS });
}

/** One line for logs: what the policy allows and denies. Pure. */
export function describeTargetPolicy(policy: TargetPolicy): string {
  const own = policy.deny.filter((rule) => rule.source !== 'built-in').map((rule) => rule.text);
  const allow = policy.allow ? `allow only ${policy.allow.map((rule) => rule.text).join(', ')}` : 'allow any target';
  return `${allow}; deny cloud metadata${own.length > 0 ? `, ${own.join(', ')}` : ''}`;
}

function parseList(raw: string | undefined, variable: RuleSource): TargetRule[] {
  if (raw === undefined) return [];
  return raw
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry) => parseEntry(entry, variable));
}

function parseEntry(entry: string, source: RuleSource): TargetRule {
  const fail = (why: string) => new TickwiseError('invalid_config', `${source}: entry "${entry}" ${why}`, { reason: 'invalid_target_entry' });
  const text = entry.toLowerCase();
  if (text.includes('://')) throw fail('is a URL; give a host name, an IP address or a CIDR');
  if (text.includes('%')) throw fail('has an IPv6 zone id; zone ids are not supported');
  if (text.includes('/')) return parseCidr(text, source, fail);
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const ip = parseIp(bare);
  if (ip) return { kind: 'cidr', text: entry, source, version: ip.version, base: ip.value, prefix: ip.version === 4 ? 32 : 128 };
  if (text.startsWith('[') || text.includes(':')) {
    if (/^[^:]+:\d+$/.test(text) || /^\[.*\]:\d+$/.test(text)) throw fail('has a port; give the host only (rules apply to every port)');
    throw fail('is not a valid IPv6 address');
  }
  if (text === '*') {
    throw fail(source === 'TICKWISE_ALLOW_TARGETS' ? 'would match every name; leave TICKWISE_ALLOW_TARGETS unset to allow every target' : 'would match every name; a wildcard needs a domain, as in "*.example.com"');
  }
  const wildcard = text.startsWith('*.');
  const name = (wildcard ? text.slice(2) : text).replace(/\.$/, '');
  if (name.includes('*')) throw fail('may have a wildcard only as its whole first label, as in "*.example.com"');
  const labels = name.split('.');
  if (name.length > 253 || !labels.every((label) => LABEL.test(label))) throw fail('is not a valid host name, IP address or CIDR');
  if (labels.every((label) => /^\d+$/.test(label)) || /^\d+$/.test(labels[labels.length - 1]!)) {
    throw fail('is not a valid IPv4 address (write all four parts, e.g. 10.0.0.1)');
  }
  return wildcard ? { kind: 'wildcard', text: entry, source, suffix: `.${name}` } : { kind: 'name', text: entry, source, name };
}

function parseCidr(text: string, source: RuleSource, fail: (why: string) => TickwiseError): TargetRule {
  const [address = '', prefixText = '', ...rest] = text.split('/');
  if (rest.length > 0) throw fail('has more than one "/"');
  const ip = parseIp(address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address);
  if (!ip) throw fail(`is not a CIDR: "${address}" is not an IP address`);
  const bits = ip.version === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > bits) throw fail(`has a bad prefix length: it must be a whole number from 0 to ${bits} for IPv${ip.version}`);
  const prefix = Number(prefixText);
  const base = mask(ip.value, bits, prefix);
  if (base !== ip.value) throw fail(`has bits set past its /${prefix} prefix (did you mean ${formatIp(ip.version, base)}/${prefix}?)`);
  return { kind: 'cidr', text, source, version: ip.version, base, prefix };
}

interface Ip {
  version: 4 | 6;
  value: bigint;
}

/** An IP address as a number; an IPv4-mapped IPv6 address (::ffff:a.b.c.d) counts as IPv4. */
function parseIp(text: string): Ip | null {
  const version = isIP(text);
  if (version === 4) return { version: 4, value: parseV4(text) };
  if (version !== 6) return null;
  let head = text;
  let tailV4: bigint | null = null;
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    tailV4 = parseV4(text.slice(lastColon + 1));
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const [left = '', right] = head.split('::');
  const groupsOf = (part: string) => (part === '' ? [] : part.split(':'));
  const leftGroups = groupsOf(left);
  const rightGroups = right === undefined ? [] : groupsOf(right);
  const groups = [...leftGroups, ...Array<string>(8 - leftGroups.length - rightGroups.length).fill('0'), ...rightGroups];
  let value = groups.reduce((sum, group) => (sum << 16n) | BigInt(parseInt(group, 16)), 0n);
  if (tailV4 !== null) value = (value & ~0xffffffffn) | tailV4;
  if (value >> 32n === 0xffffn) return { version: 4, value: value & 0xffffffffn };
  return { version: 6, value };
}

function parseV4(text: string): bigint {
  return text.split('.').reduce((sum, part) => (sum << 8n) | BigInt(Number(part)), 0n);
}

function mask(value: bigint, bits: number, prefix: number): bigint {
  const hostBits = BigInt(bits - prefix);
  return (value >> hostBits) << hostBits;
}

function formatIp(version: 4 | 6, value: bigint): string {
  if (version === 4) return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
  const groups = Array.from({ length: 8 }, (_, index) => Number((value >> BigInt(112 - index * 16)) & 0xffffn));
  // The longest run of two or more zero groups becomes "::" (RFC 5952).
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

function matchesName(host: string, rule: TargetRule): boolean {
  if (rule.kind === 'name') return host === rule.name;
  if (rule.kind === 'wildcard') return host.endsWith(rule.suffix);
  return false;
}

function matchesIp(ip: Ip, rule: TargetRule): boolean {
  return rule.kind === 'cidr' && rule.version === ip.version && mask(ip.value, ip.version === 4 ? 32 : 128, rule.prefix) === rule.base;
}

function describeRule(rule: TargetRule): string {
  return rule.source === 'built-in' ? `the built-in deny "${rule.text}" (cloud metadata)` : `${rule.source} entry "${rule.text}"`;
}

/** A URL's host without IPv6 brackets, lower case, without a trailing dot. */
function hostOf(url: URL): string {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return host.toLowerCase().replace(/\.$/, '');
}

/**
 * Host-level check of a target URL (at apply time, and before every call). An IP literal is judged
 * completely here. A name is judged against the name rules; with an allow list holding IPs or CIDRs,
 * a name not allowed by name passes here and is judged on its resolved addresses when connecting.
 * Throws TickwiseError `invalid_argument` for a string that is not a URL. Pure; executes nothing.
 */
export function checkTarget(target: string | URL, policy: TargetPolicy): TargetVerdict {
  let url: URL;
  try {
    url = typeof target === 'string' ? new URL(target) : target;
  } catch {
    throw new TickwiseError('invalid_argument', `invalid URL "${String(target)}"`, { reason: 'invalid_url' });
  }
  const host = hostOf(url);
  const ip = parseIp(host);
  if (ip) return checkIp(ip, `host ${host}`, false, policy);
  const denied = policy.deny.find((rule) => matchesName(host, rule));
  if (denied) return deny(denied, `target denied: host ${host} matches ${describeRule(denied)}`);
  if (!policy.allow || policy.allow.some((rule) => matchesName(host, rule) || rule.kind === 'cidr')) return { allowed: true };
  return { allowed: false, rule: 'TICKWISE_ALLOW_TARGETS', message: `target denied: host ${host} is not in TICKWISE_ALLOW_TARGETS` };
}

/**
 * Connection-time check of one address that `hostname` resolved to: deny rules on the address,
 * then the allow list (allowed by the name itself, or by the address). Pure; executes nothing.
 */
export function checkResolvedAddress(hostname: string, address: string, policy: TargetPolicy): TargetVerdict {
  const ip = parseIp(address);
  if (!ip) return { allowed: false, rule: 'address', message: `target denied: ${hostname} resolved to "${address}", which is not an IP address` };
  const host = hostname.toLowerCase().replace(/\.$/, '');
  const allowedByName = policy.allow?.some((rule) => matchesName(host, rule)) ?? false;
  return checkIp(ip, `${hostname} resolved to ${address}, which`, allowedByName, policy);
}

function checkIp(ip: Ip, subject: string, allowedByName: boolean, policy: TargetPolicy): TargetVerdict {
  const denied = policy.deny.find((rule) => matchesIp(ip, rule));
  if (denied) return deny(denied, `target denied: ${subject} matches ${describeRule(denied)}`);
  if (!policy.allow || allowedByName || policy.allow.some((rule) => matchesIp(ip, rule))) return { allowed: true };
  return { allowed: false, rule: 'TICKWISE_ALLOW_TARGETS', message: `target denied: ${subject} is not in TICKWISE_ALLOW_TARGETS` };
}

function deny(rule: TargetRule, message: string): TargetVerdict {
  return { allowed: false, rule: describeRule(rule), message };
}
