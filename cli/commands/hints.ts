import { printJson, withApi } from '../api-client.ts';
import { dateOf, hintKindName, hintStatus, hintValue, parseLimit } from '../api-format.ts';
import { type Hint, ListHintsResponseSchema } from '@tickwise/api';
import { relativeTime, renderTable, truncate } from '../table.ts';
import { checkArgs, parseApiArgs } from './api-args.ts';

export const HINTS_HELP = `tickwise hints <endpoint> [--all] [--limit <n, default 50, at most 500>] [--json]

The active hints of an endpoint, newest first (--all: expired and cleared ones too), over the API
(TICKWISE_URL, TICKWISE_API_KEY). <endpoint> is an endpoint id or <job>/<endpoint>.`;

/** `tickwise hints <endpoint>`. */
export async function hintsCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { positionals, values } = parseApiArgs(argv);
  if (values.help || positionals.length === 0) {
    console.log(HINTS_HELP);
    return values.help ? 0 : 2;
  }
  checkArgs('hints', values, ['all', 'limit', 'json'], positionals, 1);
  // ListHints has no pages: one call of at most 500.
  const limit = parseLimit(values.limit, 50, 500);
  return withApi(env, 'hints', async (api) => {
    const endpoint = await api.endpoint(positionals[0]!);
    const response = await api.hints.listHints({ endpointId: endpoint.id, includePast: values.all ?? false, limit });
    if (values.json) {
      printJson(ListHintsResponseSchema, response);
      return 0;
    }
    if (response.hints.length === 0) {
      console.log(`no ${values.all ? '' : 'active '}hints for ${positionals[0]}`);
      return 0;
    }
    console.log(hintsTable(response.hints, new Date()));
    return 0;
  });
}

/** Hints as a table, as given (newest first). Pure. */
export function hintsTable(hints: readonly Hint[], now: Date): string {
  const rows = hints.map((hint) => [
    hintKindName(hint.kind),
    hintValue(hint, now),
    hint.source,
    hintStatus(hint),
    relativeTime(dateOf(hint.createdAt), now),
    hint.active ? relativeTime(dateOf(hint.expiresAt), now) : hint.clearedAt ? `cleared ${relativeTime(dateOf(hint.clearedAt), now)}` : relativeTime(dateOf(hint.expiresAt), now),
    truncate(hint.reason, 70),
  ]);
  return renderTable(['KIND', 'VALUE', 'SOURCE', 'STATUS', 'CREATED', 'EXPIRES', 'REASON'], rows);
}
