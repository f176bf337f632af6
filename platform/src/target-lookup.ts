import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { TickwiseError } from './errors.ts';
import { checkResolvedAddress, type TargetPolicy } from './target-policy.ts';

/** The reason of the error a connection refused by the target policy fails with. */
export const TARGET_DENIED = 'target_denied';

/**
 * A `lookup` for net/tls connections (undici's `connect.lookup`) that resolves like `dns.lookup`
 * and refuses the connection with a `permission_denied` TickwiseError (reason `target_denied`) when
 * any resolved address is denied. The check is on the very addresses the socket then connects to,
 * so re-pointing a name between the write-time check and the call (DNS rebinding) does not get past
 * it. IP literals never reach a lookup: `checkTarget` judges them before the call. Shared by every
 * process that calls URLs people wrote (the planner's notifications; the scheduler node has the
 * same function in its own package).
 */
export function policyLookup(policy: TargetPolicy, resolve: typeof dnsLookup = dnsLookup): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '');
      for (const { address } of addresses) {
        const verdict = checkResolvedAddress(hostname, address, policy);
        if (!verdict.allowed) return callback(new TickwiseError('permission_denied', verdict.message, { reason: TARGET_DENIED }), '');
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      if (!first) return callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '');
      callback(null, first.address, first.family);
    });
  };
}
