import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { ServiceImpl } from '@connectrpc/connect';
import { tenantEndpointIds, tenantJobIds, type MachineGlance } from '@tickwise/db';
import { z } from 'zod';
import { callerOf } from '../auth.ts';
import { runMessage, STATE_TO_ENUM } from '../convert.ts';
import { TickwiseError } from '@tickwise/platform';
import { MachineState, type WatchService } from '@tickwise/api';
import { id, LIMITS, parse } from '../validate.ts';
import { EventQueue } from '../watch-queue.ts';
import type { WatchEvent } from '../watch-hub.ts';
import type { ServiceDeps } from './deps.ts';

const watchSchema = z.object({
  endpointIds: z.array(id).max(LIMITS.watchEndpointIds, `must list at most ${LIMITS.watchEndpointIds} endpoints`),
  jobIds: z.array(id).max(LIMITS.watchJobIds, `must list at most ${LIMITS.watchJobIds} jobs`),
  includeCurrent: z.boolean(),
});

function machineChange(glance: MachineGlance, previous: MachineGlance | null, current: boolean) {
  return {
    event: {
      case: 'machine' as const,
      value: {
        endpointId: glance.id,
        jobId: glance.jobId,
        name: glance.name,
        state: STATE_TO_ENUM[glance.state],
        previousState: previous ? STATE_TO_ENUM[previous.state] : MachineState.UNSPECIFIED,
        nextRunAt: glance.nextRunAt ? timestampFromDate(glance.nextRunAt) : undefined,
        reason: glance.reason ?? '',
        version: glance.version,
        paused: glance.state === 'paused',
        archived: glance.archivedAt !== null,
        current,
      },
    },
  };
}

const heartbeat = () => ({ event: { case: 'heartbeat' as const, value: { at: timestampFromDate(new Date()) } } });

/** Ids the tenant does not have read as unknown ids: NOT_FOUND naming the first. */
async function requireOwned(check: () => Promise<Set<string>>, ids: readonly string[], what: string): Promise<void> {
  if (ids.length === 0) return;
  const owned = await check();
  const missing = ids.find((each) => !owned.has(each));
  if (missing !== undefined) throw new TickwiseError('not_found', `${what} ${missing} does not exist`);
}

export function watchService(deps: ServiceDeps): ServiceImpl<typeof WatchService> {
  return {
    async *watch(request, context) {
      const { tenantId, keyId } = callerOf(context);
      const input = parse(watchSchema, request);
      await requireOwned(() => tenantEndpointIds(deps.pool, tenantId, input.endpointIds), input.endpointIds, 'endpoint');
      await requireOwned(() => tenantJobIds(deps.pool, tenantId, input.jobIds), input.jobIds, 'job');
      if (deps.hub.size >= deps.config.maxWatchers) throw new TickwiseError('resource_exhausted', `this gateway serves at most ${deps.config.maxWatchers} watches at once`);
      if (deps.hub.countFor(tenantId) >= deps.config.maxWatchersPerTenant) throw new TickwiseError('resource_exhausted', `a tenant may hold at most ${deps.config.maxWatchersPerTenant} watches at once on one gateway`);
      // One key (one leaked or looping client) cannot take all of its tenant's watches.
      if (deps.hub.countForKey(keyId) >= deps.config.maxWatchersPerKey) {
        throw new TickwiseError('resource_exhausted', `an API key may hold at most ${deps.config.maxWatchersPerKey} watches at once on one gateway; close one or use another key`);
      }
      const queue = new EventQueue<WatchEvent>(deps.config.watchBufferSize);
      const subscription = deps.hub.subscribe(
        {
          tenantId,
          keyId,
          endpointIds: input.endpointIds.length > 0 ? new Set(input.endpointIds) : null,
          jobIds: input.jobIds.length > 0 ? new Set(input.jobIds) : null,
        },
        (event) => queue.push(event),
        () => queue.close(),
      );
      // The key was checked when the watch opened; if it is revoked later, the watch ends (UNAUTHENTICATED).
      let revoked = false;
      const release = deps.watchKeys.hold(keyId, () => {
        revoked = true;
        queue.close();
      });
      try {
        const ready = await Promise.race([subscription.ready.then(() => true), new Promise<false>((resolve) => context.signal.addEventListener('abort', () => resolve(false), { once: true }))]);
        if (!ready) return;
        // The first message says the watch is live: every change from here on is reported.
        yield heartbeat();
        const seen = new Map<string, number>();
        if (input.includeCurrent) {
          for (const glance of subscription.current()) {
            seen.set(glance.id, glance.version);
            yield machineChange(glance, null, true);
          }
        }
        for (;;) {
          const next = await queue.next(deps.config.heartbeatMs, context.signal);
          if (next === 'closed' && revoked) throw new TickwiseError('unauthenticated', 'the API key was revoked');
          if (next === 'closed') return;
          if (next === 'timeout') {
            yield heartbeat();
          } else if (next === 'overflow') {
            throw new TickwiseError('resource_exhausted', `the watch fell more than ${deps.config.watchBufferSize} events behind; open it again`);
          } else if (next.kind === 'run') {
            yield { event: { case: 'run' as const, value: { run: runMessage(next.run) } } };
          } else if ((seen.get(next.glance.id) ?? -1) < next.glance.version) {
            yield machineChange(next.glance, next.previous, false);
          }
        }
      } finally {
        release();
        subscription.close();
        queue.close();
      }
    },
  };
}
