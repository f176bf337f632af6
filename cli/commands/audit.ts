import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { parseDuration } from '@tickwise/platform';
import { type AuditEvent, ListAuditEventsResponseSchema } from '@tickwise/api';
import { eachPage, printJson, withApi } from '../api-client.ts';
import { dateOf, parseLimit } from '../api-format.ts';
import { invalidArgument } from '../settings.ts';
import { renderTable, timeWithRelative, truncate } from '../table.ts';
import { checkArgs, parseApiArgs } from './api-args.ts';

export const AUDIT_HELP = `tickwise audit [--since <1h | RFC 3339 time>] [--limit <n, default 50>] [--json]

The tenant's audit trail, newest first: every change made through the API (with the key that made
it) or by a command on the database (tickwise apply, keys: "cli (database) as <OS user>"), its
target and what changed (redacted: never a secret's value, a signing secret or a key). Over the API
(TICKWISE_URL, TICKWISE_API_KEY of an admin key). Kept as long as runs (TICKWISE_RUN_RETENTION).`;

/** `--since 1h` (that long ago) or `--since 2026-12-01T00:00:00Z`. */
export function parseSince(text: string, now: Date): Date {
  const ms = parseDuration(text);
  if (ms !== undefined && ms > 0) return new Date(now.getTime() - ms);
  const at = /^\d{4}-\d{2}-\d{2}T/.test(text) ? new Date(text) : new Date(NaN);
  if (Number.isNaN(at.getTime())) throw invalidArgument(`--since must be a duration such as 30m or 1h, or an RFC 3339 time such as 2026-12-01T09:00:00Z, got "${text}"`);
  return at;
}

/** `tickwise audit`. */
export async function auditCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { positionals, values } = parseApiArgs(argv);
  if (values.help) {
    console.log(AUDIT_HELP);
    return 0;
  }
  checkArgs('audit', values, ['since', 'limit', 'json'], positionals, 0);
  const limit = parseLimit(values.limit, 50, 100_000);
  const since = values.since === undefined ? undefined : timestampFromDate(parseSince(values.since, new Date()));
  return withApi(env, 'audit', async (api) => {
    const events: AuditEvent[] = [];
    const { more } = await eachPage(limit, async (pageSize, pageToken) => {
      const page = await api.audit.listAuditEvents({ pageSize, pageToken, since });
      events.push(...page.events);
      return { count: page.events.length, next: page.nextPageToken };
    });
    const shown = events.slice(0, limit);
    if (more) console.error(`more changes match than --limit ${limit}: showing the newest ${shown.length}`);
    if (values.json) {
      printJson(ListAuditEventsResponseSchema, create(ListAuditEventsResponseSchema, { events: shown }));
      return 0;
    }
    console.log(shown.length === 0 ? 'no changes recorded' + (since ? ' since then' : '') : auditTable(shown, new Date()));
    return 0;
  });
}

/** Audit events as a table, as given (newest first). Pure. */
export function auditTable(events: readonly AuditEvent[], now: Date): string {
  const rows = events.map((event) => [
    timeWithRelative(dateOf(event.at), now),
    truncate(event.actor, 40),
    // The procedure's method (CreateJob) or the command (apply): the service is in --json.
    event.action.slice(event.action.lastIndexOf('/') + 1),
    truncate(event.target || '-', 50),
    truncate(JSON.stringify(event.summary ?? {}), 100),
  ]);
  return renderTable(['WHEN', 'WHO', 'WHAT', 'TARGET', 'CHANGE'], rows);
}
