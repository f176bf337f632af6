import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { ServiceImpl } from '@connectrpc/connect';
import { lastRunsByWorker, recentTakeovers, tenantLeases } from '@tickwise/db';
import { formatDuration, parseDuration } from '@tickwise/platform';
import { z } from 'zod';
import { callerOf } from '../auth.ts';
import { STATE_TO_ENUM } from '../convert.ts';
import type { NodeService } from '@tickwise/api';
import { parse } from '../validate.ts';
import type { ServiceDeps } from './deps.ts';

export const NODE_LIMITS = {
  leasesPerNodeDefault: 100,
  leasesPerNodeMax: 500,
  takeoversDefault: 50,
  takeoversMax: 200,
  windowDefaultMs: 24 * 3_600_000,
  windowMaxMs: 7 * 24 * 3_600_000,
} as const;

const count = (max: number, fallback: number) =>
  z
    .number()
    .int()
    .min(0, 'must not be negative')
    .max(max, `must be at most ${max}`)
    .transform((value) => value || fallback);

const leasesSchema = z.object({
  leasesPerNode: count(NODE_LIMITS.leasesPerNodeMax, NODE_LIMITS.leasesPerNodeDefault),
  takeoverLimit: count(NODE_LIMITS.takeoversMax, NODE_LIMITS.takeoversDefault),
  takeoverWindow: z.string().transform((text, context) => {
    if (text.trim() === '') return NODE_LIMITS.windowDefaultMs;
    const ms = parseDuration(text);
    if (ms === undefined) {
      context.addIssue({ code: 'custom', message: `invalid duration "${text}" (use e.g. 30m, 24h)` });
      return z.NEVER;
    }
    if (ms < 1_000 || ms > NODE_LIMITS.windowMaxMs) {
      context.addIssue({ code: 'custom', message: `must be from 1s to ${formatDuration(NODE_LIMITS.windowMaxMs)}` });
      return z.NEVER;
    }
    return ms;
  }),
});

/** "lease of <worker> expired; attempt N": the scheduler's words for a takeover. Pure. */
export function parseTakeoverReason(reason: string | null): { previousWorker: string; attempt: number | null } {
  const match = /^lease of (\S+) expired(?:; attempt (\d+))?/.exec(reason ?? '');
  return { previousWorker: match?.[1] ?? '', attempt: match?.[2] ? Number(match[2]) : null };
}

export function nodeService(deps: ServiceDeps): ServiceImpl<typeof NodeService> {
  return {
    async listLeases(request, context) {
      const { tenantId } = callerOf(context);
      const input = parse(leasesSchema, request);
      const [leases, lastRuns, takeovers] = await Promise.all([
        tenantLeases(deps.pool, tenantId, input.leasesPerNode),
        lastRunsByWorker(deps.pool, tenantId),
        recentTakeovers(deps.pool, tenantId, new Date(deps.now().getTime() - input.takeoverWindow), input.takeoverLimit),
      ]);
      const workers = new Set([...leases.nodes.map((node) => node.worker), ...lastRuns.map((each) => each.worker)]);
      const nodes = [...workers].sort().map((worker) => {
        const held = leases.nodes.find((node) => node.worker === worker);
        const ran = lastRuns.find((each) => each.worker === worker);
        return {
          worker,
          leaseCount: held?.leaseCount ?? 0,
          expiredLeaseCount: held?.expiredCount ?? 0,
          leases: (held?.leases ?? []).map((lease) => ({
            endpointId: lease.endpointId,
            jobId: lease.jobId,
            name: lease.name,
            state: STATE_TO_ENUM[lease.state],
            expiresAt: timestampFromDate(lease.expiresAt),
            expired: lease.expired,
            claimedSlot: lease.claimedSlot ? timestampFromDate(lease.claimedSlot) : undefined,
            attempt: lease.attempt,
          })),
          lastRuns: ran?.endpoints ?? 0,
          lastRunAt: ran ? timestampFromDate(ran.lastRunAt) : undefined,
        };
      });
      return {
        nodes,
        takeovers: takeovers.map((takeover) => {
          const parsed = parseTakeoverReason(takeover.reason);
          // History written before migration 0007 named the taker itself (the owner after the takeover): unknown.
          if (parsed.previousWorker === takeover.worker) parsed.previousWorker = '';
          return {
            endpointId: takeover.endpointId,
            name: takeover.name,
            at: timestampFromDate(takeover.at),
            worker: takeover.worker ?? '',
            previousWorker: parsed.previousWorker,
            attempt: takeover.attempt ?? parsed.attempt ?? 0,
            reason: takeover.reason ?? '',
          };
        }),
        at: timestampFromDate(leases.at),
      };
    },
  };
}
