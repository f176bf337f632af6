import type { NewNotification, NotifyEndpoint } from '@tickwise/db';
import { webhookPayload, type NoticeContent } from './payloads.ts';
import type { DueNotice } from './streaks.ts';

/** The key that keeps a notification to once per endpoint: per streak and threshold, per streak, per notice. Pure. */
export function dedupKeyOf(content: NoticeContent): string {
  switch (content.kind) {
    case 'failing':
      return `failing:${content.streak.key}:${content.threshold}`;
    case 'recovered':
      return `recovered:${content.streakKey}`;
    case 'paused':
      return `paused:${content.noticeId}`;
  }
}

/** A due streak notice as content. Pure. */
export function contentOf(due: DueNotice): NoticeContent {
  return due.kind === 'failing' ? { kind: 'failing', streak: due.streak, threshold: due.threshold } : { kind: 'recovered', streakKey: due.streakKey, streak: due.streak, runId: due.runId, at: due.at };
}

/**
 * The notification row of a notice and whom it goes to: a failure to the targets whose `after` it
 * reached, a pause to every target of the job, a recovery to every target told of the streak's
 * failure. Null when nobody is to be told (no target; a recovery is always written, since it is
 * what closes the streak). Pure; ids are made by `newId`.
 */
export function notificationRow(content: NoticeContent, endpoint: NotifyEndpoint, publicUrl: string | null, newId: () => string, now: Date): NewNotification | null {
  const id = newId();
  const base = {
    id,
    tenantId: endpoint.tenantId,
    jobId: endpoint.jobId,
    endpointId: endpoint.id,
    kind: content.kind,
    dedupKey: dedupKeyOf(content),
    payload: webhookPayload(id, content, endpoint, publicUrl, now) as unknown as Record<string, unknown>,
  };
  const deliveries = (targets: NotifyEndpoint['targets']) => targets.map((target) => ({ channel: target.channel, url: target.url, deliveryId: newId() }));
  switch (content.kind) {
    case 'failing': {
      const targets = endpoint.targets.filter((target) => target.after === content.threshold);
      return targets.length === 0 ? null : { ...base, streakKey: content.streak.key, threshold: content.threshold, targets: deliveries(targets) };
    }
    case 'recovered':
      return { ...base, streakKey: content.streakKey, threshold: null, targets: { told: content.streakKey, deliveryIds: newId } };
    case 'paused':
      return endpoint.targets.length === 0 ? null : { ...base, streakKey: null, threshold: null, targets: deliveries(endpoint.targets) };
  }
}
