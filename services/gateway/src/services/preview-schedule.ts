import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { HandlerContext } from '@connectrpc/connect';
import { PREVIEW_COUNT_DEFAULT, PREVIEW_COUNT_MAX, previewSchedule, restoreSnapshot, toEndpointSpec, type EndpointSpec } from '@tickwise/machines';
import { TickwiseError } from '@tickwise/platform';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { PreviewScheduleRequest, PreviewScheduleResponseSchema } from '@tickwise/api';
import type { EndpointView } from '@tickwise/db';
import { z } from 'zod';
import { callerOf } from '../auth.ts';
import { LATEST_TIMESTAMP_MS } from '../input-guard.ts';
import { STATE_TO_ENUM } from '../convert.ts';
import { endpointInputOf } from '../spec.ts';
import { id, parse, timestamp } from '../validate.ts';
import type { ServiceDeps } from './deps.ts';

const previewSchema = z.object({
  count: z
    .number()
    .int()
    .min(0, 'must not be negative')
    .max(PREVIEW_COUNT_MAX, `must be at most ${PREVIEW_COUNT_MAX}`)
    .transform((count) => (count === 0 ? PREVIEW_COUNT_DEFAULT : count)),
  from: timestamp,
});
const endpointIdSchema = z.object({ endpointId: id });

/** An unsaved spec needs no name to be previewed; the jobs-file rules still want one. */
const UNSAVED_NAME = 'preview';

/**
 * PreviewSchedule: the baseline runs of the caller's endpoint (another tenant's id is NOT_FOUND,
 * as everywhere: `load` is endpoint-service's loadEndpoint) or of an unsaved spec, checked by the
 * rules CreateEndpoint applies.
 */
export async function previewScheduleCall(
  deps: ServiceDeps,
  request: PreviewScheduleRequest,
  context: HandlerContext,
  load: (deps: ServiceDeps, tenantId: string, endpointId: string) => Promise<EndpointView>,
): Promise<MessageInitShape<typeof PreviewScheduleResponseSchema>> {
  const { tenantId } = callerOf(context);
  const { count, from: requestedFrom } = parse(previewSchema, request);
  const from = requestedFrom ?? deps.now();
  const target = request.target;
  let spec: EndpointSpec;
  let saved: EndpointView | null = null;
  if (target.case === 'endpointId') {
    const { endpointId } = parse(endpointIdSchema, { endpointId: target.value });
    saved = await load(deps, tenantId, endpointId);
    spec = saved.spec;
  } else if (target.case === 'spec') {
    spec = toEndpointSpec(endpointInputOf(target.value, 'spec', target.value.name || UNSAVED_NAME));
  } else {
    throw TickwiseError.invalid([{ field: 'endpoint_id', reason: 'set endpoint_id (a saved endpoint) or spec (an unsaved one)' }]);
  }
  const lastSlot = saved ? restoreSnapshot(saved.snapshot, saved).snapshot.context.lastSlot : null;
  const preview = previewSchedule(spec, from, count, lastSlot ? new Date(lastSlot) : null);
  return {
    schedule: preview.schedule,
    timezone: preview.timezone,
    from: timestampFromDate(from),
    // A run past 9999-12-31 cannot be written as a Timestamp: the preview ends there, as at a cron's last run.
    runs: preview.runs.filter((run) => run.at.getTime() <= LATEST_TIMESTAMP_MS).map((run) => ({ ...run, at: timestampFromDate(run.at) })),
    ...(saved ? { state: STATE_TO_ENUM[saved.state], nextRunAt: saved.nextRunAt ? timestampFromDate(saved.nextRunAt) : undefined, nextRunReason: saved.reason ?? '' } : {}),
  };
}
