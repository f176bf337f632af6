import { create } from '@bufbuild/protobuf';
import { eachPage, printJson, withApi } from '../api-client.ts';
import { dateOf, parseLimit, runDuration, runError, runStatusName } from '../api-format.ts';
import { ListRunsResponseSchema, type Run, RunStatus, type SkippedSlots } from '@tickwise/api';
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
    const skipped: SkippedSlots[] = [];
    await eachPage(limit, async (pageSize, pageToken) => {
      const page = await api.runs.listRuns({ endpointId: endpoint.id, status, pageSize, pageToken });
      runs.push(...page.runs);
      skipped.push(...page.skipped);
      return { count: page.runs.length, next: page.nextPageToken };
    });
    const shown = runs.slice(0, limit);
    // Skips as far back as the runs shown go (all of them when every run is shown).
    const oldest = runs.length > limit ? dateOf(shown.at(-1)?.startedAt) : undefined;
    const skips = skipped.filter((entry) => !oldest || (dateOf(entry.at) ?? oldest) >= oldest);
    if (values.json) {
      printJson(ListRunsResponseSchema, create(ListRunsResponseSchema, { runs: shown, skipped: skips }));
      return 0;
    }
    if (shown.length === 0 && skips.length === 0) {
      console.log(`no runs of ${positionals[0]} yet${values.status ? ` (${values.status})` : ''}`);
      return 0;
    }
    console.log(runsTable(shown, new Date(), skips));
    return 0;
  });
}

/** Runs as a table, newest first, with a line for each step that skipped slots. Pure. */
export function runsTable(runs: readonly Run[], now: Date, skipped: readonly SkippedSlots[] = []): string {
  const lines: { at: number; row: string[] }[] = skipped.map((entry) => ({
    at: dateOf(entry.at)?.getTime() ?? 0,
    row: [relativeTime(dateOf(entry.at), now), 'skipped', '-', '-', `${entry.count} slot${entry.count === 1 ? '' : 's'}`, '-', entry.why, entry.reason],
  }));
  for (const run of runs) {
    const started = dateOf(run.startedAt);
    const slot = dateOf(run.slot);
    const late = started && slot ? started.getTime() - slot.getTime() : undefined;
    lines.push({ at: started?.getTime() ?? 0, row: [
      relativeTime(started, now),
      runStatusName(run.status),
      run.httpStatus === undefined ? '-' : String(run.httpStatus),
      runDuration(run),
      late === undefined ? '-' : late >= 1_000 ? `${Math.round(late / 1_000)}s late` : 'on time',
      `${run.attempt}${run.lastAttempt ? '' : ' (retried)'}`,
      run.plannedSource || '-',
      runError(run),
    ] });
  }
  lines.sort((a, b) => b.at - a.at);
  return renderTable(['STARTED', 'STATUS', 'HTTP', 'DURATION', 'SLOT', 'ATTEMPT', 'PLANNED BY', 'ERROR'], lines.map((line) => line.row));
}
