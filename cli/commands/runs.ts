import { create } from '@bufbuild/protobuf';
import { eachPage, printJson, withApi } from '../api-client.ts';
import { dateOf, parseLimit, runDuration, runError, runStatusName } from '../api-format.ts';
import { ListRunsResponseSchema, type Run, RunStatus } from '@tickwise/api';
import { invalidArgument } from '../settings.ts';
import { relativeTime, renderTable } from '../table.ts';
import { checkArgs, parseApiArgs } from './api-args.ts';

export const RUNS_HELP = `tickwise runs <endpoint> [--status succeeded|failed] [--limit <n, default 20>] [--json]

The latest runs of an endpoint, newest first, over the API (TICKWISE_URL, TICKWISE_API_KEY).
<endpoint> is an endpoint id or <job>/<endpoint> (e.g. demo/health).`;

const STATUSES = { succeeded: RunStatus.SUCCEEDED, failed: RunStatus.FAILED } as const;

/** `tickwise runs <endpoint>`. */
export async function runsCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { positionals, values } = parseApiArgs(argv);
  if (values.help || positionals.length === 0) {
    console.log(RUNS_HELP);
    return values.help ? 0 : 2;
  }
  checkArgs('runs', values, ['status', 'limit', 'json'], positionals, 1);
  const limit = parseLimit(values.limit, 20, 10_000);
  if (values.status !== undefined && !Object.hasOwn(STATUSES, values.status)) throw invalidArgument(`--status must be succeeded or failed, got "${values.status}"`);
  const status = values.status === undefined ? RunStatus.UNSPECIFIED : STATUSES[values.status as keyof typeof STATUSES];
  return withApi(env, 'runs', async (api) => {
    const endpoint = await api.endpoint(positionals[0]!);
    const runs: Run[] = [];
    await eachPage(limit, async (pageSize, pageToken) => {
      const page = await api.runs.listRuns({ endpointId: endpoint.id, status, pageSize, pageToken });
      runs.push(...page.runs);
      return { count: page.runs.length, next: page.nextPageToken };
    });
    const shown = runs.slice(0, limit);
    if (values.json) {
      printJson(ListRunsResponseSchema, create(ListRunsResponseSchema, { runs: shown }));
      return 0;
    }
    if (shown.length === 0) {
      console.log(`no runs of ${positionals[0]} yet${values.status ? ` (${values.status})` : ''}`);
      return 0;
    }
    console.log(runsTable(shown, new Date()));
    return 0;
  });
}

/** Runs as a table, as given (newest first). Pure. */
export function runsTable(runs: readonly Run[], now: Date): string {
  const rows = runs.map((run) => {
    const started = dateOf(run.startedAt);
    const slot = dateOf(run.slot);
    const late = started && slot ? started.getTime() - slot.getTime() : undefined;
    return [
      relativeTime(started, now),
      runStatusName(run.status),
      run.httpStatus === undefined ? '-' : String(run.httpStatus),
      runDuration(run),
      late === undefined ? '-' : late >= 1_000 ? `${Math.round(late / 1_000)}s late` : 'on time',
      String(run.attempt),
      run.plannedSource || '-',
      runError(run),
    ];
  });
  return renderTable(['STARTED', 'STATUS', 'HTTP', 'DURATION', 'SLOT', 'ATTEMPT', 'PLANNED BY', 'ERROR'], rows);
}
