import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

// Network namespaces for tests that need a real network between processes on one machine: a
// namespace of the test's own, joined to the host's by veth pairs, whose links the test can cut
// silently and restore. Needs root and iproute2's `ip`.

/** Why namespaces cannot be made here, or null when they can. */
export function netnsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (ip netns add, veth pairs); run as root, as CI does';
  const probe = spawnSync('ip', ['-V'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return 'the ip command (iproute2) was not found: install it with apt-get install iproute2';
  return null;
}

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A veth pair between the host's namespace and the test's, on a /30 of its own. */
export interface Link {
  /** The host end's address (reachable from inside the namespace). */
  readonly hostAddress: string;
  /** The namespace end's address (reachable from the host). */
  readonly nsAddress: string;
  /**
   * Makes packets between the two ends vanish, both ways, without a trace: no carrier change, no
   * ICMP, no reset. Each end's neighbour entry for the other is pointed at a MAC nobody has, so
   * frames are sent as usual and dropped by the receiving end as not addressed to it: what a
   * partition in the network looks like to both hosts. (A link set down or a route removed makes
   * the kernel answer at once with errors; netem and iptables are not on every machine.)
   */
  cut(): void;
  /** Points the neighbour entries at the real MACs again: packets flow, connections resume. */
  restore(): void;
}

export interface Namespace {
  readonly name: string;
  /** The command prefix that runs a program inside the namespace. */
  readonly exec: readonly string[];
  /** Adds a veth pair to the host: `10.<a>.<b>.1` on the host, `.2` inside. */
  link(a: number): Link;
  /** Deletes the links and the namespace; safe to call more than once. */
  destroy(): void;
}

const NOBODY_MAC = '02:00:5e:00:53:01';

/**
 * Makes namespace `tw<tag>` (deleting a leftover of the same name first) with its loopback up.
 * `tag` keeps concurrent runs apart (the process id does); interface names stay under 15 characters.
 */
export function createNamespace(tag: number): Namespace {
  const name = `tw${tag}`;
  const links: string[] = [];
  spawnSync('ip', ['netns', 'del', name]);
  ip('netns', 'add', name);
  const inNs = (...args: string[]) => ip('netns', 'exec', name, 'ip', ...args);
  inNs('link', 'set', 'lo', 'up');
  const b = tag % 250;
  return {
    name,
    exec: ['ip', 'netns', 'exec', name],
    link(a: number): Link {
      const hostIf = `tw${tag}h${links.length}`;
      const nsIf = `tw${tag}n${links.length}`;
      spawnSync('ip', ['link', 'del', hostIf]);
      ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf);
      links.push(hostIf);
      ip('link', 'set', nsIf, 'netns', name);
      const hostAddress = `10.${a}.${b}.1`;
      const nsAddress = `10.${a}.${b}.2`;
      ip('addr', 'add', `${hostAddress}/30`, 'dev', hostIf);
      ip('link', 'set', hostIf, 'up');
      inNs('addr', 'add', `${nsAddress}/30`, 'dev', nsIf);
      inNs('link', 'set', nsIf, 'up');
      const hostMac = readFileSync(`/sys/class/net/${hostIf}/address`, 'utf8').trim();
      const nsMac = ip('netns', 'exec', name, 'cat', `/sys/class/net/${nsIf}/address`).trim();
      // Permanent entries from the start, so a cut or a restore is one change each side and ARP
      // never runs in between.
      const point = (hostSees: string, nsSees: string) => {
        ip('neigh', 'replace', nsAddress, 'lladdr', hostSees, 'dev', hostIf, 'nud', 'permanent');
        inNs('neigh', 'replace', hostAddress, 'lladdr', nsSees, 'dev', nsIf, 'nud', 'permanent');
      };
      point(nsMac, hostMac);
      return { hostAddress, nsAddress, cut: () => point(NOBODY_MAC, NOBODY_MAC), restore: () => point(nsMac, hostMac) };
    },
    destroy() {
      // Deleting the host end deletes its peer; the namespace goes once no process is left in it.
      for (const hostIf of links.splice(0)) spawnSync('ip', ['link', 'del', hostIf]);
      spawnSync('ip', ['netns', 'del', name]);
    },
  };
}
