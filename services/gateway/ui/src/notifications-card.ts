import { timestampDate, type Timestamp } from '@bufbuild/protobuf/wkt';
import { type Notification, NotificationStatus, type NotifyTarget } from '@tickwise/api';
import { h } from './dom.ts';
import { ago, clip, countdown } from './format.ts';

// The endpoint page's notifications: whom its job tells, and what each target was told (failing,
// recovered, paused) with the delivery's status, attempts and last error. Drawn from API messages.

const date = (at: Timestamp | undefined) => (at ? timestampDate(at) : null);

export function notificationStatusName(status: NotificationStatus): 'pending' | 'sent' | 'failed' | 'unknown' {
  return status === NotificationStatus.PENDING ? 'pending' : status === NotificationStatus.SENT ? 'sent' : status === NotificationStatus.FAILED ? 'failed' : 'unknown';
}

/** "webhook https://… (after 3)". */
function targetText(target: NotifyTarget): string {
  return `${target.target.case ?? '?'} ${clip(target.target.value ?? '', 60)} (after ${target.after})`;
}

function row(notification: Notification, now: number): HTMLElement {
  const status = notificationStatusName(notification.status);
  const next = notification.status === NotificationStatus.PENDING && notification.nextAttemptAt ? ` · next try ${countdown(date(notification.nextAttemptAt), now)}` : '';
  return h(
    'tr',
    { class: `notification status-${status}`, 'data-notification-id': notification.id },
    h('td', { title: date(notification.createdAt)?.toISOString() ?? '' }, ago(date(notification.createdAt), now)),
    h('td', {}, h('code', {}, notification.kind)),
    h(
      'td',
      {},
      h('span', { class: `delivery ${status}` }, status),
      ` · ${notification.attempts} attempt${notification.attempts === 1 ? '' : 's'}${next}`,
      h('div', { class: 'muted' }, `${notification.channel} ${clip(notification.url, 60)}`),
      notification.lastError ? h('div', { class: 'error-text' }, `last error: ${clip(notification.lastError, 200)}`) : '',
    ),
    h('td', {}, notification.summary),
  );
}

/** Whom the job notifies, then the latest deliveries, newest first. */
export function notificationsCard(notifications: readonly Notification[], targets: readonly NotifyTarget[], now: number): HTMLElement {
  return h(
    'div',
    { class: 'card notifications-card' },
    h('h3', {}, 'Notifications'),
    h('p', { class: 'muted notify-targets' }, targets.length > 0 ? `told by the job: ${targets.map(targetText).join(' · ')}` : 'the job notifies nobody (notify in the jobs file)'),
    notifications.length > 0 ? h('table', {}, h('tbody', {}, notifications.map((notification) => row(notification, now)))) : h('p', { class: 'muted' }, 'none sent yet'),
  );
}
