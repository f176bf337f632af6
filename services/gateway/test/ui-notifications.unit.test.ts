import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { EndpointSchema, NotificationSchema, NotificationStatus, NotifyTargetSchema } from '@tickwise/api';
import { createEndpointStore } from '../ui/src/endpoint-store.ts';
import { notificationStatusName } from '../ui/src/notifications-card.ts';

// The endpoint page's notifications: the job's targets come with the endpoint, the deliveries with
// each read, and nothing else moves them.

describe('notifications on the endpoint page store', () => {
  const target = create(NotifyTargetSchema, { target: { case: 'webhook', value: 'https://ops.example.com/hook' }, after: 3 });
  const delivery = (id: string, status: NotificationStatus) => create(NotificationSchema, { id, endpointId: 'id-1', kind: 'failing', channel: 'webhook', status, attempts: 2, lastError: 'HTTP 500' });

  it('keeps the job’s targets from the endpoint’s load and replaces the deliveries with each read', () => {
    const store = createEndpointStore('id-1');
    store.trigger.endpointLoaded({ endpoint: create(EndpointSchema, { id: 'id-1', name: 'poll' }), jobName: 'orders', runs: [], notify: [target] });
    store.trigger.notificationsLoaded({ notifications: [delivery('d-1', NotificationStatus.PENDING)] });
    store.trigger.notificationsLoaded({ notifications: [delivery('d-1', NotificationStatus.SENT)] });
    const { context } = store.getSnapshot();
    expect(context.notify).toEqual([target]);
    expect(context.notifications.map((each) => [each.id, notificationStatusName(each.status)])).toEqual([['d-1', 'sent']]);
    // A later load without targets (an older caller) keeps them.
    store.trigger.endpointLoaded({ endpoint: create(EndpointSchema, { id: 'id-1', name: 'poll' }), jobName: 'orders', runs: [] });
    expect(store.getSnapshot().context.notify).toEqual([target]);
  });

  it('names every delivery status', () => {
    expect([NotificationStatus.PENDING, NotificationStatus.SENT, NotificationStatus.FAILED, NotificationStatus.UNSPECIFIED].map(notificationStatusName)).toEqual(['pending', 'sent', 'failed', 'unknown']);
  });
});
