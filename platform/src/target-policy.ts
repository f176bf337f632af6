import { TickwiseError } from './errors.ts';
import { embeddedIpv4, formatIp, maskIp, parseIpAddress, type EmbeddedIpv4, type Ip } from './ip-address.ts';
import { envFlag } from './settings.ts';
import { isLoopbackName, reachesThisHost, SPECIAL_KIND_LABELS, SPECIAL_RANGES, specialRangeOf, THIS_HOST } from './special-addresses.ts';
import { describeRule, matchesIp, matchesName, parseEntry, parseList, type TargetRule } from './target-rules.ts';

export type { RuleSource, TargetRule } from './target-rules.ts';

/**
 * Which hosts outbound calls may reach. Cloud metadata is always denied; private and special
 * addresses (special-addresses.ts: loopback, unspecified, private, link-local, CGNAT, ...) are
 * refused unless TICKWISE_ALLOW_PRIVATE_TARGETS=true; then TICKWISE_DENY_TARGETS; and when an allow
 * list is set, a target must also match it. Rules are host names (`api.example.com`), wildcards
 * (`*.example.com`: any subdomain, not the name itself), IP addresses and CIDRs, IPv4 and IPv6.
 * Ports are not part of a rule. An IPv6 address carrying an IPv4 one (IPv4-mapped, -compatible,
 * -translated, NAT64, 6to4, Teredo) is judged as both. Checked twice: on the URL's host
 * (`checkTarget`, at apply time and before a call), and on every address a name resolves to, when
 * the connection is made (`policyLookup`), so a name that resolves (or is re-pointed) to a refused
 * address is refused.
 */
export interface TargetPolicy {
  /** `null`: every target not denied may be called. */
  readonly allow: readonly TargetRule[] | null;
  /** The built-in cloud metadata denies first, then TICKWISE_DENY_TARGETS. */
  readonly deny: readonly TargetRule[];
  /** TICKWISE_ALLOW_PRIVATE_TARGETS: private and special addresses may be called (cloud metadata never). */
  readonly allowPrivate: boolean;
  /** IP-and-port origins let through the private refusal: `tickwise dev`'s synthetic server. */
  readonly privateOrigins: readonly PrivateOrigin[];
}

export interface PrivateOrigin {
  readonly text: string;
  readonly ip: Ip;
  readonly port: number;
}

export type TargetVerdict = { allowed: true } | { allowed: false; rule: string; message: string };

/** The setting that lifts the private refusal. */
export const ALLOW_PRIVATE_TARGETS = 'TICKWISE_ALLOW_PRIVATE_TARGETS';

const PRIVATE_HINT = `private targets are refused; ${ALLOW_PRIVATE_TARGETS}=true allows them`;

/**
 * Cloud instance metadata and host agents: AWS/GCP/Azure/OpenStack/DigitalOcean (169.254.169.254),
 * AWS ECS task metadata (169.254.170.2), EKS Pod Identity (169.254.170.23, fd00:ec2::23), AWS IMDS
 * over IPv6 (fd00:ec2::254), Tencent Cloud (169.254.0.23), Oracle Cloud's legacy endpoint
 * (192.0.0.192), Azure's WireServer (168.63.129.16, a public address that hands out the VM's
 * agent configuration), GCP's name for it, Alibaba Cloud (100.100.100.200). Denied whatever the
 * settings, TICKWISE_ALLOW_PRIVATE_TARGETS included: a scheduler that calls URLs written by others
 * must never hand out its own cloud credentials.
 */
export const BUILT_IN_DENIED_TARGETS = [
  '169.254.169.254',
  '169.254.170.2',
  '169.254.170.23',
  '169.254.0.23',
  'fd00:ec2::254',
  'fd00:ec2::23',
  '192.0.0.192',
  '168.63.129.16',
  'metadata.google.internal',
  '100.100.100.200',
] as const;

const BUILT_IN_DENY: readonly TargetRule[] = BUILT_IN_DENIED_TARGETS.map((entry) => parseEntry(entry, 'built-in'));

/** The policy with no settings: cloud metadata denied, private and special addresses refused. */
export const DEFAULT_TARGET_POLICY: TargetPolicy = { allow: null, deny: BUILT_IN_DENY, allowPrivate: false, privateOrigins: [] };

/**
 * Builds a policy from the comma-separated lists of TICKWISE_ALLOW_TARGETS and TICKWISE_DENY_TARGETS
 * and TICKWISE_ALLOW_PRIVATE_TARGETS (`allowPrivate`, default false). Empty entries are skipped; an
 * unset or empty allow list means no allow list. Throws TickwiseError `invalid_config` naming the
 * variable and the entry, also for an allow entry that can never be called (cloud metadata, or a
 * private range while private targets are refused). Pure; executes nothing.
 */
export function parseTargetPolicy(lists: { allow?: string | undefined; deny?: string | undefined; allowPrivate?: boolean | undefined }): TargetPolicy {
  const allowPrivate = lists.allowPrivate ?? false;
  const allow = parseList(lists.allow, 'TICKWISE_ALLOW_TARGETS');
  const deny = parseList(lists.deny, 'TICKWISE_DENY_TARGETS');
  for (const rule of allow) checkAllowEntry(rule, allowPrivate);
  if (allow.length === 0 && deny.length === 0 && !allowPrivate) return DEFAULT_TARGET_POLICY;
  return { allow: allow.length > 0 ? allow : null, deny: [...BUILT_IN_DENY, ...deny], allowPrivate, privateOrigins: [] };
}

/**
 * `parseTargetPolicy` over a process environment (TICKWISE_ALLOW_PRIVATE_TARGETS through the
 * settings reader: `true` or `false`). Pure; executes nothing.
 */
export function targetPolicyFromEnv(env: NodeJS.ProcessEnv): TargetPolicy {
  return parseTargetPolicy({ allow: env.TICKWISE_ALLOW_TARGETS, deny: env.TICKWISE_DENY_TARGETS, allowPrivate: envFlag(env, ALLOW_PRIVATE_TARGETS) });
}

/**
 * The policy letting one origin (an IP literal and a port, as in `http://127.0.0.1:8788`) through
 * the private refusal, and nothing else: how `tickwise dev` calls its own synthetic targets without
 * opening every private address. Deny lists and cloud metadata still apply. Throws TickwiseError
 * `invalid_argument` for anything but an http(s) URL on an IP literal. Pure; executes nothing.
 */
export function allowPrivateOrigin(policy: TargetPolicy, origin: string): TargetPolicy {
  let url: URL | null = null;
  try {
    url = new URL(origin);
  } catch {
    // said below
  }
  const ip = url ? parseIpAddress(bareHost(url)) : null;
  if (!url || !ip || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new TickwiseError('invalid_argument', `a private origin must be an http(s) URL on an IP address, got "${origin}"`);
  }
  const port = portOf(url);
  return { ...policy, privateOrigins: [...policy.privateOrigins, { text: `${url.hostname}:${port}`, ip, port }] };
}

/** One line for logs: what the policy allows, refuses and denies. Pure. */
export function describeTargetPolicy(policy: TargetPolicy): string {
  const own = policy.deny.filter((rule) => rule.source !== 'built-in').map((rule) => rule.text);
  const allow = policy.allow ? `allow only ${policy.allow.map((rule) => rule.text).join(', ')}` : 'allow any target';
  const origins = policy.privateOrigins.map((origin) => origin.text);
  const privately = policy.allowPrivate ? `private addresses allowed (${ALLOW_PRIVATE_TARGETS}=true)` : `refuse private addresses${origins.length > 0 ? ` except ${origins.join(', ')}` : ''}`;
  return `${allow}; ${privately}; deny cloud metadata${own.length > 0 ? `, ${own.join(', ')}` : ''}`;
}

/** Refuses an allow entry nothing could ever match: it would be a silent dead letter. */
function checkAllowEntry(rule: TargetRule, allowPrivate: boolean): void {
  const fail = (why: string) => new TickwiseError('invalid_config', `TICKWISE_ALLOW_TARGETS: entry "${rule.text}" ${why}`, { reason: 'invalid_target_entry' });
  if (rule.kind === 'wildcard') return;
  if (rule.kind === 'name') {
    if (BUILT_IN_DENY.some((denied) => denied.kind === 'name' && denied.name === rule.name)) throw fail('is cloud metadata, which is always denied');
    if (!allowPrivate && isLoopbackName(rule.name)) throw fail(`always means this host (${PRIVATE_HINT})`);
    return;
  }
  const within = (base: bigint, prefix: number, version: 4 | 6) => rule.version === version && rule.prefix >= prefix && maskIp(rule.base, version === 4 ? 32 : 128, prefix) === base;
  if (BUILT_IN_DENY.some((denied) => denied.kind === 'cidr' && within(denied.base, denied.prefix, denied.version))) throw fail('is cloud metadata, which is always denied');
  const range = SPECIAL_RANGES.find((special) => within(special.base, special.prefix, special.version));
  if (!allowPrivate && range) throw fail(`lies within ${range.text}, ${SPECIAL_KIND_LABELS[range.kind].replace(/address$/, 'range')} (${PRIVATE_HINT})`);
}

function bareHost(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

/** A URL's host without IPv6 brackets, lower case, without a trailing dot. */
function hostOf(url: URL): string {
  return bareHost(url).toLowerCase().replace(/\.$/, '');
}

function portOf(url: URL): number {
  return url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}

/**
 * Host-level check of a target URL (at apply time, and before every call). An IP literal is judged
 * completely here (in every spelling a URL accepts: `new URL` turns `2130706433`, `0x7f.1` and
 * `0177.0.0.1` into `127.0.0.1`, `0` into `0.0.0.0`, and the connection never looks an IP literal
 * up). A name is judged against the name rules, and `localhost` and its kin as this host; with an
 * allow list holding IPs or CIDRs, a name not allowed by name passes here and is judged on its
 * resolved addresses when connecting. Throws TickwiseError `invalid_argument` for a string that is
 * not a URL. Pure; executes nothing.
 */
export function checkTarget(target: string | URL, policy: TargetPolicy): TargetVerdict {
  let url: URL;
  try {
    url = typeof target === 'string' ? new URL(target) : target;
  } catch {
    throw new TickwiseError('invalid_argument', `invalid URL "${String(target)}"`, { reason: 'invalid_url' });
  }
  const host = hostOf(url);
  const ip = parseIpAddress(host);
  if (ip) return checkIp(ip, { lead: `host ${host}`, resolved: false }, false, policy, portOf(url));
  const denied = policy.deny.find((rule) => matchesName(host, rule));
  if (denied) return deny(describeRule(denied), `target denied: host ${host} matches ${describeRule(denied)}`);
  if (isLoopbackName(host)) {
    const home = thisHostDenied(policy);
    if (home) return deny(describeRule(home.rule), `target denied: host ${host} reaches this host (like ${formatIp(home.ip)}, which matches ${describeRule(home.rule)})`);
    if (!policy.allowPrivate) return deny('loopback name', `target denied: host ${host} is a loopback name (${PRIVATE_HINT})`);
  }
  if (!policy.allow || policy.allow.some((rule) => matchesName(host, rule) || rule.kind === 'cidr')) return { allowed: true };
  return { allowed: false, rule: 'TICKWISE_ALLOW_TARGETS', message: `target denied: host ${host} is not in TICKWISE_ALLOW_TARGETS` };
}

/**
 * Connection-time check of one address that `hostname` resolved to: the same rules as an IP
 * literal's, then the allow list (allowed by the name itself, or by the address). Private origins
 * do not apply here (a lookup has no port). Pure; executes nothing.
 */
export function checkResolvedAddress(hostname: string, address: string, policy: TargetPolicy): TargetVerdict {
  const ip = parseIpAddress(address);
  if (!ip) return { allowed: false, rule: 'address', message: `target denied: ${hostname} resolved to "${address}", which is not an IP address` };
  const host = hostname.toLowerCase().replace(/\.$/, '');
  const allowedByName = policy.allow?.some((rule) => matchesName(host, rule)) ?? false;
  return checkIp(ip, { lead: `${hostname} resolved to ${address}`, resolved: true }, allowedByName, policy, null);
}

interface Subject {
  /** `host ::1`, or `name resolved to ::1` */
  readonly lead: string;
  readonly resolved: boolean;
}

function say(subject: Subject, embedded: EmbeddedIpv4 | null): string {
  return `${subject.lead}${embedded ? ` (${embedded.embedding} ${formatIp(embedded.ipv4)})` : ''}${subject.resolved ? ', which' : ''}`;
}

/** A deny rule covering this host's loopback, with the loopback address it covers. */
function thisHostDenied(policy: TargetPolicy): { rule: TargetRule; ip: Ip } | null {
  for (const rule of policy.deny) {
    const ip = THIS_HOST.find((home) => matchesIp(home, rule));
    if (ip) return { rule, ip };
  }
  return null;
}

function checkIp(ip: Ip, subject: Subject, allowedByName: boolean, policy: TargetPolicy, port: number | null): TargetVerdict {
  const embedded = embeddedIpv4(ip);
  const forms = embedded ? [ip, embedded.ipv4] : [ip];
  const who = say(subject, embedded);
  for (const rule of policy.deny) {
    if (forms.some((form) => matchesIp(form, rule))) return deny(describeRule(rule), `target denied: ${who} matches ${describeRule(rule)}`);
  }
  // Loopback and unspecified addresses all reach this host: a rule against one of them is a rule
  // against this host (TICKWISE_DENY_TARGETS=127.0.0.0/8 also refuses 0.0.0.0, ::1 and ::).
  const home = forms.some(reachesThisHost) ? thisHostDenied(policy) : null;
  if (home) return deny(describeRule(home.rule), `target denied: ${who} reaches this host (like ${formatIp(home.ip)}, which matches ${describeRule(home.rule)})`);
  if (!policy.allowPrivate) {
    const range = forms.map(specialRangeOf).find((found) => found !== null);
    const excepted = port !== null && policy.privateOrigins.some((origin) => origin.port === port && forms.some((form) => form.version === origin.ip.version && form.value === origin.ip.value));
    if (range && !excepted) return deny(`private range ${range.text}`, `target denied: ${who} is ${SPECIAL_KIND_LABELS[range.kind]} (${PRIVATE_HINT})`);
  }
  if (!policy.allow || allowedByName || policy.allow.some((rule) => forms.some((form) => matchesIp(form, rule)))) return { allowed: true };
  return { allowed: false, rule: 'TICKWISE_ALLOW_TARGETS', message: `target denied: ${who} is not in TICKWISE_ALLOW_TARGETS` };
}

function deny(rule: string, message: string): TargetVerdict {
  return { allowed: false, rule, message };
}
