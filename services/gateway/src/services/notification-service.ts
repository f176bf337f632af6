import type { ServiceImpl } from '@connectrpc/connect';
import { listDeliveries, type DeliveryStatus } from '@tickwise/db';
import { z } from 'zod';
import { isUuid } from '@tickwise/platform';
import { NotificationStatus, type NotificationService } from '@tickwise/api';
import { callerOf } from '../auth.ts';
import { notificationMessage } from '../notify.ts';
import { decodePageToken, nextToken, pageSize, pageToken, parse } from '../validate.ts';
import type { ServiceDeps } from './deps.ts';

const STATUSES: Partial<Record<NotificationStatus, DeliveryStatus>> = {
  [NotificationStatus.PENDING]: 'pending',
  [NotificationStatus.SENT]: 'sent',
  [NotificationStatus.FAILED]: 'failed',
};

/** A filter by id: empty for all, else a UUID. */
const filterId = z
  .string()
  .refine((text) => text === '' || isUuid(text), 'must be a UUID (or empty: no filter)')
  .transform((text) => (text === '' ? null : text.toLowerCase()));

const listSchema = z.object({
  pageSize,
  pageToken,
  endpointId: filterId,
  jobId: filterId,
  status: z.number().refine((status) => status === NotificationStatus.UNSPECIFIED || status in STATUSES, 'is not a known value'),
});

export function notificationService(deps: ServiceDeps): ServiceImpl<typeof NotificationService> {
  return {
    async listNotifications(request, context) {
      const { tenantId } = callerOf(context);
      const input = parse(listSchema, request);
      const before = decodePageToken(input.pageToken, isUuid);
      // The tenant filters the rows: another tenant's endpoint or job id simply matches nothing.
      const deliveries = await listDeliveries(deps.pool, tenantId, {
        limit: input.pageSize,
        before,
        endpointId: input.endpointId,
        jobId: input.jobId,
        status: STATUSES[input.status as NotificationStatus] ?? null,
      });
      return { notifications: deliveries.map(notificationMessage), nextPageToken: nextToken(deliveries, input.pageSize, (delivery) => delivery.id) };
    },
  };
}
