import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { ServiceImpl } from '@connectrpc/connect';
import { changeHints, MANUAL_HINT_SOURCE } from '@tickwise/catalog';
import { countActiveHints, isActiveHint, listHints, newId, type NewHint } from '@tickwise/db';
import { MAX_INTERVAL_MS, MIN_INTERVAL_MS } from '@tickwise/machines';
import { z } from 'zod';
import { callerOf } from '../auth.ts';
import { ENUM_TO_HINT_KIND, hintMessage, STATE_TO_ENUM } from '../convert.ts';
import { parseDuration, TickwiseError, type FieldViolation } from '@tickwise/platform';
import { HintKind, type HintService } from '@tickwise/api';
import { enumValue, id, LIMITS, parse, QUOTAS, requiredReason, timestamp } from '../validate.ts';
import type { ServiceDeps } from './deps.ts';
import { loadEndpoint } from './endpoint-service.ts';

const HOUR_MS = 3_600_000;
/** A person's hint lives at most this long; a lasting change belongs in the spec. */
const MAX_HINT_LIFETIME_MS = 30 * 24 * HOUR_MS;

const listSchema = z.object({
  endpointId: id,
  includePast: z.boolean(),
  limit: z.number().int().min(0, 'must not be negative').max(LIMITS.pageSizeMax, `must be at most ${LIMITS.pageSizeMax}`),
});
const addSchema = z.object({ endpointId: id, kind: enumValue(HintKind, 'HINT_KIND_UNSPECIFIED'), interval: z.string().max(32, 'must be at most 32 characters'), at: timestamp, reason: requiredReason, expiresAt: timestamp });
const clearSchema = z.object({ endpointId: id, hintId: id });

/** The hint a person asked for, checked against the clock. Pure apart from `now`. */
export function manualHint(input: z.output<typeof addSchema>, now: Date): NewHint {
  const violations: FieldViolation[] = [];
  const kind = ENUM_TO_HINT_KIND[input.kind];
  let intervalMs: number | undefined;
  if (kind === 'interval') {
    intervalMs = parseDuration(input.interval);
    if (input.interval === '') violations.push({ field: 'interval', reason: 'is required for HINT_KIND_INTERVAL' });
    else if (intervalMs === undefined) violations.push({ field: 'interval', reason: `invalid duration "${input.interval}" (use e.g. 250ms, 30s, 5m, 1h)` });
    else if (intervalMs < MIN_INTERVAL_MS || intervalMs > MAX_INTERVAL_MS) violations.push({ field: 'interval', reason: `must be from ${MIN_INTERVAL_MS}ms to 366d` });
    if (input.at !== undefined) violations.push({ field: 'at', reason: 'must be unset for HINT_KIND_INTERVAL' });
  } else {
    if (input.interval !== '') violations.push({ field: 'interval', reason: `must be empty for ${kind === 'run_at' ? 'HINT_KIND_RUN_AT' : 'HINT_KIND_PAUSE_UNTIL'}` });
    if (input.at === undefined) violations.push({ field: 'at', reason: 'is required' });
    else if (kind === 'pause_until' && input.at <= now) violations.push({ field: 'at', reason: 'must be in the future' });
    else if (input.at.getTime() > now.getTime() + MAX_HINT_LIFETIME_MS) violations.push({ field: 'at', reason: 'must be at most 30 days ahead' });
  }
  const defaultExpiry = kind === 'interval' ? now.getTime() + HOUR_MS : kind === 'run_at' ? (input.at?.getTime() ?? now.getTime()) + HOUR_MS : (input.at?.getTime() ?? now.getTime());
  const expiresAt = input.expiresAt ?? new Date(Math.max(defaultExpiry, now.getTime() + 1_000));
  if (expiresAt <= now) violations.push({ field: 'expires_at', reason: 'must be in the future' });
  else if (expiresAt.getTime() > now.getTime() + MAX_HINT_LIFETIME_MS) violations.push({ field: 'expires_at', reason: 'must be at most 30 days ahead' });
  if (violations.length > 0) throw TickwiseError.invalid(violations);
  const hint: NewHint = { id: newId(), endpointId: input.endpointId, kind, reason: input.reason, source: MANUAL_HINT_SOURCE, expiresAt };
  if (intervalMs !== undefined) hint.intervalMs = intervalMs;
  if (input.at !== undefined) hint.at = input.at;
  return hint;
}

export function hintService(deps: ServiceDeps): ServiceImpl<typeof HintService> {
  async function change(tenantId: string, endpointId: string, prepare: Parameters<typeof changeHints>[3]) {
    const plan = await changeHints(deps.pool, tenantId, endpointId, prepare, { now: deps.now });
    return { state: STATE_TO_ENUM[plan.state], nextRunAt: plan.nextRunAt ? timestampFromDate(plan.nextRunAt) : undefined, reason: plan.reason ?? '' };
  }

  return {
    async listHints(request, context) {
      const { tenantId } = callerOf(context);
      const input = parse(listSchema, request);
      await loadEndpoint(deps, tenantId, input.endpointId);
      const hints = await listHints(deps.pool, input.endpointId, { includePast: input.includePast, limit: input.limit || LIMITS.hintsDefault });
      const now = deps.now();
      return { hints: hints.map((hint) => hintMessage(hint, now)) };
    },

    async addHint(request, context) {
      const { tenantId } = callerOf(context);
      const input = parse(addSchema, request);
      const now = deps.now();
      const hint = manualHint(input, now);
      const plan = await change(
        tenantId,
        input.endpointId,
        async (client) => {
          if ((await countActiveHints(client, input.endpointId, MANUAL_HINT_SOURCE)) >= QUOTAS.manualHintsPerEndpoint) {
            throw new TickwiseError('resource_exhausted', `an endpoint may have at most ${QUOTAS.manualHintsPerEndpoint} active manual hints: clear some first`);
          }
          return { endpointId: input.endpointId, add: [hint] };
        },
      );
      const stored = (await listHints(deps.pool, input.endpointId, { includePast: true, limit: LIMITS.pageSizeMax })).find((each) => each.id === hint.id);
      if (!stored) throw new Error(`hint ${hint.id} was written but cannot be read back`);
      return { hint: hintMessage(stored, deps.now()), ...plan };
    },

    async clearHint(request, context) {
      const { tenantId } = callerOf(context);
      const input = parse(clearSchema, request);
      return change(
        tenantId,
        input.endpointId,
        async (client) => {
          if (!(await isActiveHint(client, input.endpointId, input.hintId))) throw new TickwiseError('not_found', `hint ${input.hintId} is not an active hint of endpoint ${input.endpointId}`);
          return { endpointId: input.endpointId, add: [], clearIds: [input.hintId] };
        },
      );
    },
  };
}
