import type { lookup, LookupAddress } from 'node:dns';
import { parseTargetPolicy } from '@tickwise/platform';

/**
 * The tests call real targets on 127.0.0.1, which the target policy refuses by default (private
 * targets). The harness opts in explicitly, as an operator would, so production code keeps its
 * default: a policy with TICKWISE_ALLOW_PRIVATE_TARGETS=true for the processes the tests wire in
 * memory (nodes, gateways, applies, dispatchers, notifiers), and the variable itself for the
 * `tickwise` processes they spawn. Tests that prove the default refuses leave these out.
 */
export const TEST_TARGET_POLICY = parseTargetPolicy({ allowPrivate: true });

export const TEST_TARGET_ENV: Readonly<Record<string, string>> = { TICKWISE_ALLOW_PRIVATE_TARGETS: 'true' };

/**
 * A `dns.lookup` that answers from `answers` (name → addresses) and fails with ENOTFOUND for any
 * other name: for the connection-time checks of the dispatcher and the notification sender.
 */
export function fakeResolver(answers: Readonly<Record<string, readonly string[]>>): typeof lookup {
  return ((hostname: string, options: unknown, callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => {
    const found = answers[hostname];
    if (!found) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), []);
    callback(null, found.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));
  }) as unknown as typeof lookup;
}
