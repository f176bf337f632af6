import { create } from '@bufbuild/protobuf';
import { eachPage, printJson, withApi } from '../api-client.ts';
import { dateOf, parseLimit } from '../api-format.ts';
import { ListNotificationsResponseSchema, type Notification, NotificationStatus } from '@tickwise/api';
import { invalidArgument } from '../settings.ts';
import { relativeTime, renderTable, truncate } from '../table.ts';
import { checkArgs, parseApiArgs } from './api-args.ts';

export const NOTIFICATIONS_HELP = `tickwise notifications [--endpoint <endpoint>] [--job <job>] [--status pending|sent|failed]
                       [--limit <n, default 20>] [--json]

What the planner told the jobs' notify targets (an endpoint failing, recovered or paused), one line
per notification and target, newest first: status, attempts, last error. Over the API
(TICKWISE_URL, TICKWISE_API_KEY). <endpoint> is an endpoint id or <job>/<endpoint>.`;

const STATUSES = { pending: NotificationStatus.PENDING, sent: NotificationStatus.SENT, failed: NotificationStatus.FAILED } as const;

/** `tickwise notifications`. */
export async function notificationsCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { positionals, values } = parseApiArgs(argv);
  if (values.help) {
    console.log(NOTIFICATIONS_HELP);
    return 0;
  }
  checkArgs('notifications', values, ['endpoint', 'job', 'status', 'limit', 'json'], positionals, 0);
  const limit = parseLimit(values.limit, 20, 10_000);
  if (values.status !== undefined && !Object.hasOwn(STATUSES, values.status)) throw invalidArgument(`--status must be pending, sent or failed, got "${values.status}"`);
  const status = values.status === undefined ? NotificationStatus.UNSPECIFIED : STATUSES[values.status as keyof typeof STATUSES];
  return withApi(env, 'notifications', async (api) => {
    const endpointId = values.endpoint === undefined ? '' : (await api.endpoint(values.endpoint)).id;
    const jobId = values.job === undefined ? '' : (await api.job(values.job)).id;
    const notifications: Notification[] = [];
    const { more } = await eachPage(limit, async (pageSize, pageToken) => {
      const page = await api.notifications.listNotifications({ endpointId, jobId, status, pageSize, pageToken });
      notifications.push(...page.notifications);
      return { count: page.notifications.length, next: page.nextPageToken };
    });
    const shown = notifications.slice(0, limit);
    if (more) console.error(`more notifications match than --limit ${limit}: showing the newest ${shown.length}`);
    if (values.json) {
      printJson(ListNotificationsResponseSchema, create(ListNotificationsResponseSchema, { notifications: shown }));
      return 0;
    }
    if (shown.length === 0) {
      console.log('no notifications match');
      return 0;
    }
    console.log(notificationsTable(shown, new Date()));
    return 0;
  });
}

export function notificationStatusName(status: NotificationStatus): string {
  return status === NotificationStatus.UNSPECIFIED ? '-' : (NotificationStatus[status] ?? String(status)).toLowerCase();
}

/** Notifications as a table, as given (newest first). Pure. */
export function notificationsTable(notifications: readonly Notification[], now: Date): string {
  const rows = notifications.map((each) => {
    const status = notificationStatusName(each.status);
    const when = each.status === NotificationStatus.PENDING && each.nextAttemptAt ? `next ${relativeTime(dateOf(each.nextAttemptAt), now)}` : relativeTime(dateOf(each.sentAt ?? each.lastAttemptAt ?? each.createdAt), now);
    return [relativeTime(dateOf(each.createdAt), now), each.kind, `${each.channel} ${truncate(each.url, 40)}`, status, String(each.attempts), when, truncate(each.lastError || '-', 50), truncate(each.summary, 90)];
  });
  return renderTable(['CREATED', 'KIND', 'TARGET', 'STATUS', 'ATTEMPTS', 'LAST/NEXT', 'LAST ERROR', 'SUMMARY'], rows);
}
