import type { EndpointRow } from '@tickwise/db';
import type { DispatchRequest } from './dispatcher.ts';

/**
 * The `Idempotency-Key` of a slot, and the `webhook-id` of a signed call: the same for every attempt
 * at the slot (a takeover included), so receivers can drop a repeat. Pure.
 */
export function idempotencyKey(endpointId: string, slot: Date): string {
  return `${endpointId}:${slot.getTime()}`;
}

/**
 * The HTTP call of one attempt at a slot: the endpoint's own request plus the headers Tickwise sets
 * (they win over the spec's; the spec cannot name them). Every attempt at a slot carries the same
 * Idempotency-Key and webhook-id, and its number in X-Tickwise-Attempt. Signed when the endpoint, or
 * else its tenant, has signing secrets. `{{secrets.NAME}}` references stay as written: the dispatcher
 * puts the values in when it sends the call. Pure; executes nothing.
 */
export function requestFor(row: EndpointRow, slot: Date, runId: string, attempt: number): DispatchRequest {
  const { spec } = row;
  const key = idempotencyKey(row.id, slot);
  return {
    url: spec.url,
    method: spec.method,
    body: spec.body,
    timeoutMs: spec.timeoutMs,
    headers: {
      ...spec.headers,
      'x-tickwise-endpoint': row.id,
      'x-tickwise-run': runId,
      'x-tickwise-scheduled-at': slot.toISOString(),
      'x-tickwise-attempt': String(attempt),
      'idempotency-key': key,
    },
    ...(spec.success ? { success: spec.success } : {}),
    sign: { endpointId: row.id, tenantId: row.tenantId, webhookId: key },
    tenantId: row.tenantId,
  };
}
