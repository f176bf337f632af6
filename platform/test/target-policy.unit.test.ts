import { describe, expect, it } from 'vitest';
import { TickwiseError } from '../src/errors.ts';
import { BUILT_IN_DENIED_TARGETS, checkResolvedAddress, checkTarget, DEFAULT_TARGET_POLICY, describeTargetPolicy, parseTargetPolicy, targetPolicyFromEnv, type TargetPolicy } from '../src/target-policy.ts';

function errorOf(run: () => unknown): TickwiseError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(TickwiseError);
    return error as TickwiseError;
  }
  throw new Error('expected a TickwiseError');
}

const deny = (list: string) => parseTargetPolicy({ deny: list });
const allow = (list: string, denyList?: string, allowPrivate?: boolean) => parseTargetPolicy({ allow: list, deny: denyList, allowPrivate });

describe('parsing TICKWISE_ALLOW_TARGETS and TICKWISE_DENY_TARGETS', () => {
  it.each([
    ['10.0.0.0/33', 'TICKWISE_DENY_TARGETS: entry "10.0.0.0/33" has a bad prefix length: it must be a whole number from 0 to 32 for IPv4'],
    ['fc00::/129', 'TICKWISE_DENY_TARGETS: entry "fc00::/129" has a bad prefix length: it must be a whole number from 0 to 128 for IPv6'],
    ['10.0.0.0/x', 'TICKWISE_DENY_TARGETS: entry "10.0.0.0/x" has a bad prefix length: it must be a whole number from 0 to 32 for IPv4'],
    ['10.0.0.0/', 'TICKWISE_DENY_TARGETS: entry "10.0.0.0/" has a bad prefix length: it must be a whole number from 0 to 32 for IPv4'],
    ['10.0.0.1/8', 'TICKWISE_DENY_TARGETS: entry "10.0.0.1/8" has bits set past its /8 prefix (did you mean 10.0.0.0/8?)'],
    ['fd00:ec2::254/64', 'TICKWISE_DENY_TARGETS: entry "fd00:ec2::254/64" has bits set past its /64 prefix (did you mean fd00:ec2::/64?)'],
    ['2001:db8:0:1:2:3:4:5/16', 'TICKWISE_DENY_TARGETS: entry "2001:db8:0:1:2:3:4:5/16" has bits set past its /16 prefix (did you mean 2001::/16?)'],
    ['example.com/8', 'TICKWISE_DENY_TARGETS: entry "example.com/8" is not a CIDR: "example.com" is not an IP address'],
    ['10.0.0.0/8/8', 'TICKWISE_DENY_TARGETS: entry "10.0.0.0/8/8" has more than one "/"'],
    ['https://example.com', 'TICKWISE_DENY_TARGETS: entry "https://example.com" is a URL; give a host name, an IP address or a CIDR'],
    ['example.com:8080', 'TICKWISE_DENY_TARGETS: entry "example.com:8080" has a port; give the host only (rules apply to every port)'],
    ['10.0.0.1:80', 'TICKWISE_DENY_TARGETS: entry "10.0.0.1:80" has a port; give the host only (rules apply to every port)'],
    ['[::1]:80', 'TICKWISE_DENY_TARGETS: entry "[::1]:80" has a port; give the host only (rules apply to every port)'],
    ['fe80::1%eth0', 'TICKWISE_DENY_TARGETS: entry "fe80::1%eth0" has an IPv6 zone id; zone ids are not supported'],
    ['1:2:3', 'TICKWISE_DENY_TARGETS: entry "1:2:3" is not a valid IPv6 address'],
    ['*', 'TICKWISE_DENY_TARGETS: entry "*" would match every name; a wildcard needs a domain, as in "*.example.com"'],
    ['api.*.example.com', 'TICKWISE_DENY_TARGETS: entry "api.*.example.com" may have a wildcard only as its whole first label, as in "*.example.com"'],
    ['*example.com', 'TICKWISE_DENY_TARGETS: entry "*example.com" may have a wildcard only as its whole first label, as in "*.example.com"'],
    ['exa mple.com', 'TICKWISE_DENY_TARGETS: entry "exa mple.com" is not a valid host name, IP address or CIDR'],
    ['-bad.example.com', 'TICKWISE_DENY_TARGETS: entry "-bad.example.com" is not a valid host name, IP address or CIDR'],
    ['a..b', 'TICKWISE_DENY_TARGETS: entry "a..b" is not a valid host name, IP address or CIDR'],
    ['10.1', 'TICKWISE_DENY_TARGETS: entry "10.1" is not a valid IPv4 address (write all four parts, e.g. 10.0.0.1)'],
    ['256.1.1.1', 'TICKWISE_DENY_TARGETS: entry "256.1.1.1" is not a valid IPv4 address (write all four parts, e.g. 10.0.0.1)'],
  ])('refuses %s with an exact message', (entry, message) => {
    const error = errorOf(() => deny(`127.0.0.0/8, ${entry}`));
    expect(error).toMatchObject({ code: 'invalid_config', reason: 'invalid_target_entry' });
    expect(error.message).toBe(message);
  });

  it('names the allow variable for a bad allow entry', () => {
    expect(errorOf(() => allow('ok.example.com,bad..name')).message).toBe('TICKWISE_ALLOW_TARGETS: entry "bad..name" is not a valid host name, IP address or CIDR');
    expect(errorOf(() => allow('*')).message).toBe('TICKWISE_ALLOW_TARGETS: entry "*" would match every name; leave TICKWISE_ALLOW_TARGETS unset to allow every target');
  });

  it('skips empty entries and blanks, and treats an empty allow list as none', () => {
    const policy = parseTargetPolicy({ allow: ' , ', deny: ' 10.0.0.0/8 ,, *.internal ,' });
    expect(policy.allow).toBeNull();
    expect(policy.deny.map((rule) => rule.text)).toEqual([...BUILT_IN_DENIED_TARGETS, '10.0.0.0/8', '*.internal']);
    expect(targetPolicyFromEnv({ TICKWISE_ALLOW_TARGETS: '', TICKWISE_DENY_TARGETS: '::1' }).deny.at(-1)?.text).toBe('::1');
    expect(describeTargetPolicy(allow('*.example.com', '10.0.0.0/8'))).toBe('allow only *.example.com; refuse private addresses; deny cloud metadata, 10.0.0.0/8');
    expect(describeTargetPolicy(DEFAULT_TARGET_POLICY)).toBe('allow any target; refuse private addresses; deny cloud metadata');
    expect(describeTargetPolicy(parseTargetPolicy({ allowPrivate: true }))).toBe('allow any target; private addresses allowed (TICKWISE_ALLOW_PRIVATE_TARGETS=true); deny cloud metadata');
  });

  it('reads TICKWISE_ALLOW_PRIVATE_TARGETS through the settings reader: true or false, default false', () => {
    expect(targetPolicyFromEnv({})).toBe(DEFAULT_TARGET_POLICY);
    expect(targetPolicyFromEnv({ TICKWISE_ALLOW_PRIVATE_TARGETS: '' }).allowPrivate).toBe(false);
    expect(targetPolicyFromEnv({ TICKWISE_ALLOW_PRIVATE_TARGETS: 'false' }).allowPrivate).toBe(false);
    expect(targetPolicyFromEnv({ TICKWISE_ALLOW_PRIVATE_TARGETS: 'true' }).allowPrivate).toBe(true);
    const error = errorOf(() => targetPolicyFromEnv({ TICKWISE_ALLOW_PRIVATE_TARGETS: 'yes' }));
    expect(error).toMatchObject({ code: 'invalid_config', message: 'TICKWISE_ALLOW_PRIVATE_TARGETS must be true or false, got "yes"' });
  });

  it.each([
    ['10.1.0.0/16', 'TICKWISE_ALLOW_TARGETS: entry "10.1.0.0/16" lies within 10.0.0.0/8, a private range (private targets are refused; TICKWISE_ALLOW_PRIVATE_TARGETS=true allows them)'],
    ['127.0.0.1', 'TICKWISE_ALLOW_TARGETS: entry "127.0.0.1" lies within 127.0.0.0/8, a loopback range (private targets are refused; TICKWISE_ALLOW_PRIVATE_TARGETS=true allows them)'],
    ['[::1]', 'TICKWISE_ALLOW_TARGETS: entry "[::1]" lies within ::1/128, a loopback range (private targets are refused; TICKWISE_ALLOW_PRIVATE_TARGETS=true allows them)'],
    ['localhost', 'TICKWISE_ALLOW_TARGETS: entry "localhost" always means this host (private targets are refused; TICKWISE_ALLOW_PRIVATE_TARGETS=true allows them)'],
  ])('refuses the allow entry %s, which nothing could match while private targets are refused', (entry, message) => {
    expect(errorOf(() => allow(`api.example.com, ${entry}`))).toMatchObject({ code: 'invalid_config', reason: 'invalid_target_entry', message });
    expect(allow(`api.example.com, ${entry}`, undefined, true).allow).toHaveLength(2);
    // A range wider than a private one is fine: part of it can be called.
    expect(allow('0.0.0.0/0, ::/0').allow).toHaveLength(2);
  });

  it('refuses an allow entry that is cloud metadata, whatever the private setting', () => {
    for (const allowPrivate of [false, true]) {
      expect(errorOf(() => allow('169.254.169.254', undefined, allowPrivate)).message).toBe('TICKWISE_ALLOW_TARGETS: entry "169.254.169.254" is cloud metadata, which is always denied');
      expect(errorOf(() => allow('metadata.google.internal', undefined, allowPrivate)).message).toBe('TICKWISE_ALLOW_TARGETS: entry "metadata.google.internal" is cloud metadata, which is always denied');
    }
  });
});

describe('checkTarget (host level)', () => {
  const verdict = (url: string, policy: TargetPolicy) => {
    const result = checkTarget(url, policy);
    return result.allowed ? 'allowed' : result.message;
  };

  it.each([
    // The built-in denies, in every spelling a URL accepts.
    ['http://169.254.169.254/latest/meta-data/', 'target denied: host 169.254.169.254 matches the built-in deny "169.254.169.254" (cloud metadata)'],
    ['http://2852039166/', 'target denied: host 169.254.169.254 matches the built-in deny "169.254.169.254" (cloud metadata)'],
    ['http://0xa9.0xfe.0xa9.0xfe/', 'target denied: host 169.254.169.254 matches the built-in deny "169.254.169.254" (cloud metadata)'],
    ['http://[::ffff:169.254.169.254]/', 'target denied: host ::ffff:a9fe:a9fe (IPv4-mapped 169.254.169.254) matches the built-in deny "169.254.169.254" (cloud metadata)'],
    ['http://169.254.170.2/v2/credentials', 'target denied: host 169.254.170.2 matches the built-in deny "169.254.170.2" (cloud metadata)'],
    ['http://[fd00:ec2::254]/latest/', 'target denied: host fd00:ec2::254 matches the built-in deny "fd00:ec2::254" (cloud metadata)'],
    ['http://[FD00:EC2:0:0:0:0:0:254]/', 'target denied: host fd00:ec2::254 matches the built-in deny "fd00:ec2::254" (cloud metadata)'],
    ['http://metadata.google.internal/computeMetadata/v1/', 'target denied: host metadata.google.internal matches the built-in deny "metadata.google.internal" (cloud metadata)'],
    ['http://METADATA.google.internal./', 'target denied: host metadata.google.internal matches the built-in deny "metadata.google.internal" (cloud metadata)'],
    ['http://100.100.100.200/latest/meta-data/', 'target denied: host 100.100.100.200 matches the built-in deny "100.100.100.200" (cloud metadata)'],
    // Private and special addresses are refused by default (private-targets.unit.test.ts has them all).
    ['http://localhost:8788/synthetic/health', 'target denied: host localhost is a loopback name (private targets are refused; TICKWISE_ALLOW_PRIVATE_TARGETS=true allows them)'],
    ['http://127.0.0.1:9999/', 'target denied: host 127.0.0.1 is a loopback address (private targets are refused; TICKWISE_ALLOW_PRIVATE_TARGETS=true allows them)'],
    ['http://[::1]:9999/', 'target denied: host ::1 is a loopback address (private targets are refused; TICKWISE_ALLOW_PRIVATE_TARGETS=true allows them)'],
    ['http://10.1.2.3/', 'target denied: host 10.1.2.3 is a private address (private targets are refused; TICKWISE_ALLOW_PRIVATE_TARGETS=true allows them)'],
    ['http://169.254.169.253/', 'target denied: host 169.254.169.253 is a link-local address (private targets are refused; TICKWISE_ALLOW_PRIVATE_TARGETS=true allows them)'],
    // Public addresses and names are not.
    ['https://api.example.com/hook', 'allowed'],
    ['http://93.184.215.14/', 'allowed'],
    ['http://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/', 'allowed'],
  ])('default policy: %s', (url, expected) => {
    expect(verdict(url, DEFAULT_TARGET_POLICY)).toBe(expected);
  });

  // With private targets allowed, so that only the deny list decides.
  const custom = parseTargetPolicy({ deny: '127.0.0.0/8, ::1, 10.0.0.0/8, fc00::/7, *.corp.example, internal.example.com', allowPrivate: true });
  it.each([
    ['http://127.0.0.1/', 'target denied: host 127.0.0.1 matches TICKWISE_DENY_TARGETS entry "127.0.0.0/8"'],
    ['http://127.255.0.9:81/', 'target denied: host 127.255.0.9 matches TICKWISE_DENY_TARGETS entry "127.0.0.0/8"'],
    ['http://[::1]/', 'target denied: host ::1 matches TICKWISE_DENY_TARGETS entry "::1"'],
    ['http://[::ffff:10.9.8.7]/', 'target denied: host ::ffff:a09:807 (IPv4-mapped 10.9.8.7) matches TICKWISE_DENY_TARGETS entry "10.0.0.0/8"'],
    ['http://[fd12:3456::1]/', 'target denied: host fd12:3456::1 matches TICKWISE_DENY_TARGETS entry "fc00::/7"'],
    ['http://a.b.corp.example/', 'target denied: host a.b.corp.example matches TICKWISE_DENY_TARGETS entry "*.corp.example"'],
    ['http://corp.example/', 'allowed'],
    ['http://internal.example.com/', 'target denied: host internal.example.com matches TICKWISE_DENY_TARGETS entry "internal.example.com"'],
    ['http://other.internal.example.com/', 'allowed'],
    ['http://11.0.0.1/', 'allowed'],
    ['http://[fe80::1]/', 'allowed'],
    // A name is judged by name here; its addresses are judged when connecting. localhost is this host.
    ['http://printer.corp-lan.test/', 'allowed'],
    ['http://localhost/', 'target denied: host localhost reaches this host (like 127.0.0.1, which matches TICKWISE_DENY_TARGETS entry "127.0.0.0/8")'],
  ])('deny list: %s', (url, expected) => {
    expect(verdict(url, custom)).toBe(expected);
  });

  it.each([
    ['*.example.com', 'https://api.example.com/hook', 'allowed'],
    ['*.example.com', 'https://example.com/hook', 'target denied: host example.com is not in TICKWISE_ALLOW_TARGETS'],
    ['*.example.com', 'http://127.0.0.1/', 'target denied: host 127.0.0.1 is a loopback address (private targets are refused; TICKWISE_ALLOW_PRIVATE_TARGETS=true allows them)'],
    ['*.example.com', 'http://198.51.100.1/', 'target denied: host 198.51.100.1 is not in TICKWISE_ALLOW_TARGETS'],
    ['example.com, 192.0.2.0/24', 'http://192.0.2.77/', 'allowed'],
    ['example.com, 192.0.2.0/24', 'http://192.0.3.1/', 'target denied: host 192.0.3.1 is not in TICKWISE_ALLOW_TARGETS'],
    // With an IP rule in the allow list a name may still resolve into it: decided when connecting.
    ['example.com, 192.0.2.0/24', 'http://other.test/', 'allowed'],
    ['2001:db8::/32', 'http://[2001:db8:1::5]/', 'allowed'],
    // Deny wins over allow, the built-in denies included (a wider private range needs the opt-in;
    // an allow entry that is exactly a metadata address is refused when parsed).
    ['169.254.0.0/16', 'http://169.254.169.254/', 'target denied: host 169.254.169.254 matches the built-in deny "169.254.169.254" (cloud metadata)'],
  ])('allow %s: %s', (list, url, expected) => {
    expect(verdict(url, allow(list, undefined, list.startsWith('169.254')))).toBe(expected);
  });

  it('throws invalid_url for a string that is not a URL', () => {
    const error = errorOf(() => checkTarget('not a url', DEFAULT_TARGET_POLICY));
    expect(error).toMatchObject({ code: 'invalid_argument', reason: 'invalid_url' });
    expect(error.message).toBe('invalid URL "not a url"');
  });
});

describe('checkResolvedAddress (connection level)', () => {
  const policy = parseTargetPolicy({ allow: 'hooks.example.com, 192.0.2.0/24', deny: '127.0.0.0/8, ::1' });

  it.each([
    ['hooks.example.com', '203.0.113.9', 'allowed'],
    ['hooks.example.com', '127.0.0.1', 'target denied: hooks.example.com resolved to 127.0.0.1, which matches TICKWISE_DENY_TARGETS entry "127.0.0.0/8"'],
    ['hooks.example.com', '169.254.169.254', 'target denied: hooks.example.com resolved to 169.254.169.254, which matches the built-in deny "169.254.169.254" (cloud metadata)'],
    ['hooks.example.com', '::ffff:127.0.0.1', 'target denied: hooks.example.com resolved to ::ffff:127.0.0.1 (IPv4-mapped 127.0.0.1), which matches TICKWISE_DENY_TARGETS entry "127.0.0.0/8"'],
    ['hooks.example.com', '10.0.0.1', 'target denied: hooks.example.com resolved to 10.0.0.1, which is a private address (private targets are refused; TICKWISE_ALLOW_PRIVATE_TARGETS=true allows them)'],
    ['other.test', '192.0.2.10', 'allowed'],
    ['other.test', '203.0.113.9', 'target denied: other.test resolved to 203.0.113.9, which is not in TICKWISE_ALLOW_TARGETS'],
    ['other.test', 'garbage', 'target denied: other.test resolved to "garbage", which is not an IP address'],
  ])('%s → %s', (host, address, expected) => {
    const result = checkResolvedAddress(host, address, policy);
    expect(result.allowed ? 'allowed' : result.message).toBe(expected);
  });
});
