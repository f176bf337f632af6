import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { DeliveryStatus, DeliveryView } from '@tickwise/db';
import { notifyListSchema, type NotifyTarget } from '@tickwise/machines';
import { TickwiseError } from '@tickwise/platform';
import { NotificationStatus, type NotifyTarget as NotifyTargetMessage } from '@tickwise/api';
import { violationsOf } from './validate.ts';

// A job's notify targets and its notifications as the API carries them. Pure functions.

/**
 * Checks a request's notify targets with the jobs file's rules (one target each, an http(s) URL,
 * `after` 1 or more, at most 10, none twice) and returns them as stored. Throws `invalid_argument`
 * naming each field under `prefix` (`notify[1].webhook`, `jobs[0].notify[2].after`). The target
 * policy is the catalog's to check when it writes them.
 */
export function notifyTargetsOf(messages: readonly NotifyTargetMessage[], prefix: string): NotifyTarget[] {
  const input = messages.map((message) => ({
    ...(message.target.case === undefined ? {} : { [message.target.case]: message.target.value }),
    ...(message.after !== 0 ? { after: message.after } : {}),
  }));
  const parsed = notifyListSchema.safeParse(input);
  if (!parsed.success) throw TickwiseError.invalid(violationsOf(parsed.error.issues, prefix));
  return parsed.data;
}

export const STATUS_TO_ENUM: Record<DeliveryStatus, NotificationStatus> = {
  pending: NotificationStatus.PENDING,
  sent: NotificationStatus.SENT,
  failed: NotificationStatus.FAILED,
};

const ts = (at: Date | null) => (at ? timestampFromDate(at) : undefined);

export function notificationMessage(delivery: DeliveryView) {
  return {
    id: delivery.id,
    notificationId: delivery.notificationId,
    endpointId: delivery.endpointId,
    jobId: delivery.jobId,
    kind: delivery.kind,
    channel: delivery.channel,
    url: delivery.url,
    status: STATUS_TO_ENUM[delivery.status],
    attempts: delivery.attempts,
    lastError: delivery.lastError ?? '',
    lastHttpStatus: delivery.lastHttpStatus ?? undefined,
    summary: delivery.summary,
    createdAt: ts(delivery.createdAt),
    lastAttemptAt: ts(delivery.lastAttemptAt),
    nextAttemptAt: ts(delivery.nextAttemptAt),
    sentAt: ts(delivery.sentAt),
  };
}
