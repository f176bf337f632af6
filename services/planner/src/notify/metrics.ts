import { metric } from '@tickwise/platform';
import { Counter } from 'prom-client';

/**
 * Notification metrics, on the process's one registry (docs/operations.md lists them). `result` of
 * an attempt: `sent` (2xx), `retry` (it will be tried again), `failed` (given up: attempts used up,
 * or the target policy refused it).
 */
export const notifyMetrics = {
  created: metric('tickwise_notifications_created_total', (name) => new Counter({ name, help: 'Notifications made, by kind (failing, recovered, paused)', labelNames: ['kind'] })),
  deliveries: metric('tickwise_notification_deliveries_total', (name) => new Counter({ name, help: 'Delivery attempts by kind, channel (webhook, slack) and result (sent, retry, failed)', labelNames: ['kind', 'channel', 'result'] })),
};
