import { TickwiseError } from './errors.ts';
import { embeddedIpv4, formatIp, inRange, maskIp, parseIpAddress, type Ip } from './ip-address.ts';

/**
 * The rules of TICKWISE_ALLOW_TARGETS and TICKWISE_DENY_TARGETS (and the built-in metadata denies):
 * how an entry is read, and whether a host or an address matches it. Pure.
 */

export type RuleSource = 'built-in' | 'TICKWISE_ALLOW_TARGETS' | 'TICKWISE_DENY_TARGETS';

export type TargetRule =
  | { readonly kind: 'name'; readonly text: string; readonly source: RuleSource; readonly name: string }
  | { readonly kind: 'wildcard'; readonly text: string; readonly source: RuleSource; readonly suffix: string }
  | { readonly kind: 'cidr'; readonly text: string; readonly source: RuleSource; readonly version: 4 | 6; readonly base: bigint; readonly prefix: number };

/** One label of a host name (underscores are tolerated: some internal names have them). */
const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

/** A comma-separated list of entries; empty ones are skipped. Throws `invalid_config` naming the variable and the entry. Pure; executes nothing. */
export function parseList(raw: string | undefined, variable: RuleSource): TargetRule[] {
  if (raw === undefined) return [];
  return raw
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry) => parseEntry(entry, variable));
}

/** One entry: a name, a `*.` wildcard, an IP address or a CIDR. Throws `invalid_config`. Pure; executes nothing. */
export function parseEntry(entry: string, source: RuleSource): TargetRule {
  const fail = (why: string) => new TickwiseError('invalid_config', `${source}: entry "${entry}" ${why}`, { reason: 'invalid_target_entry' });
  const text = entry.toLowerCase();
  if (text.includes('://')) throw fail('is a URL; give a host name, an IP address or a CIDR');
  if (text.includes('%')) throw fail('has an IPv6 zone id; zone ids are not supported');
  if (text.includes('/')) return parseCidr(text, source, fail);
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const ip = ruleIp(bare);
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
  const ip = ruleIp(address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address);
  if (!ip) throw fail(`is not a CIDR: "${address}" is not an IP address`);
  const bits = ip.version === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > bits) throw fail(`has a bad prefix length: it must be a whole number from 0 to ${bits} for IPv${ip.version}`);
  const prefix = Number(prefixText);
  const base = maskIp(ip.value, bits, prefix);
  if (base !== ip.value) throw fail(`has bits set past its /${prefix} prefix (did you mean ${formatIp({ version: ip.version, value: base })}/${prefix}?)`);
  return { kind: 'cidr', text, source, version: ip.version, base, prefix };
}

/** An address of a rule; an IPv4-mapped one (::ffff:a.b.c.d) is written as its IPv4 address. Pure; executes nothing. */
function ruleIp(text: string): Ip | null {
  const ip = parseIpAddress(text);
  const embedded = ip && embeddedIpv4(ip);
  return embedded?.embedding === 'IPv4-mapped' ? embedded.ipv4 : ip;
}

/** Whether a host name (lower case, no trailing dot) matches a name or wildcard rule. Pure; executes nothing. */
export function matchesName(host: string, rule: TargetRule): boolean {
  if (rule.kind === 'name') return host === rule.name;
  if (rule.kind === 'wildcard') return host.endsWith(rule.suffix);
  return false;
}

/** Whether an address lies in a CIDR rule (an address is a /32 or /128). Pure; executes nothing. */
export function matchesIp(ip: Ip, rule: TargetRule): boolean {
  return rule.kind === 'cidr' && inRange(ip, rule.version, rule.base, rule.prefix);
}

/** A rule as messages name it. Pure; executes nothing. */
export function describeRule(rule: TargetRule): string {
  return rule.source === 'built-in' ? `the built-in deny "${rule.text}" (cloud metadata)` : `${rule.source} entry "${rule.text}"`;
}
