import type { JsonObject } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { ServiceImpl } from '@connectrpc/connect';
import { listAuditEvents, type AuditEvent } from '@tickwise/db';
import { z } from 'zod';
import { isUuid } from '@tickwise/platform';
import type { AuditService } from '@tickwise/api';
import { callerOf } from '../auth.ts';
import { decodePageToken, nextToken, pageSize, pageToken, parse, timestamp } from '../validate.ts';
import type { ServiceDeps } from './deps.ts';

const listSchema = z.object({ pageSize, pageToken, since: timestamp });

/** An audit event as the API shows it. Pure. */
export function auditEventMessage(event: AuditEvent) {
  const summary = event.summary !== null && typeof event.summary === 'object' && !Array.isArray(event.summary) ? (event.summary as JsonObject) : { value: event.summary as JsonObject[string] };
  return {
    id: event.id,
    actorKeyId: event.actorKeyId ?? '',
    actor: event.actor,
    via: event.via,
    action: event.action,
    target: event.target,
    summary,
    at: timestampFromDate(event.at),
  };
}

/** The tenant's audit trail, newest first: only ever the caller's tenant's events. */
export function auditService(deps: ServiceDeps): ServiceImpl<typeof AuditService> {
  return {
    async listAuditEvents(request, context) {
      const { tenantId } = callerOf(context);
      const input = parse(listSchema, request);
      const beforeId = decodePageToken(input.pageToken, isUuid);
      const events = await listAuditEvents(deps.pool, tenantId, { limit: input.pageSize, beforeId, since: input.since ?? null });
      return { events: events.map(auditEventMessage), nextPageToken: nextToken(events, input.pageSize, (event) => event.id) };
    },
  };
}
