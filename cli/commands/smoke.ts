import { Api, eachPage, readApiSettings, toApiError } from '../api-client.ts';
import { dateOf, parseDurationOption, runError, runStatusName } from '../api-format.ts';
import { type Endpoint, type Job, RunStatus } from '@tickwise/api';
import { formatDuration } from '@tickwise/platform';
import { invalidArgument } from '../settings.ts';
import { humanDuration, relativeTime } from '../table.ts';
import { checkArgs, parseApiArgs } from './api-args.ts';

export const SMOKE_HELP = `tickwise smoke [--job <job> | --endpoint <endpoint>] [--within <duration, default 2m>]
               [--planner-within <duration, default 10m>]

Checks a running deployment end to end, through the API only (TICKWISE_URL, TICKWISE_API_KEY):
  api            the API answers with the key
  synthetic run  a synthetic endpoint ran successfully within --within: the endpoints of every job
                 marked synthetic (tickwise dev's "demo"), or of --job, or --endpoint
  planner        the planner analysed one of those endpoints within --planner-within
One line per check; exit 0 when all pass, 1 when one fails.`;

/** At most this many endpoints are looked at, so a smoke test stays a few calls. */
const MAX_ENDPOINTS = 100;
const CONCURRENCY = 8;

interface Target {
  label: string;
  endpoint: Endpoint;
}

type Outcome = { ok: true; detail: string } | { ok: false; reason: string };

/** `tickwise smoke`. */
export async function smokeCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { positionals, values } = parseApiArgs(argv);
  if (values.help) {
    console.log(SMOKE_HELP);
    return 0;
  }
  checkArgs('smoke', values, ['job', 'endpoint', 'within', 'planner-within'], positionals, 0);
  if (values.job !== undefined && values.endpoint !== undefined) throw invalidArgument('give --job or --endpoint, not both');
  const withinMs = parseDurationOption('--within', values.within, 120_000);
  const plannerWithinMs = parseDurationOption('--planner-within', values['planner-within'], 600_000);
  const settings = readApiSettings(env, 'smoke');
  const api = new Api(settings);
  const fail = (error: unknown): Outcome => ({ ok: false, reason: toApiError(error, settings).message });

  const checks: [string, Outcome][] = [];
  const report = (name: string, outcome: Outcome) => {
    checks.push([name, outcome]);
    console.log(`${name.padEnd(13)}  ${outcome.ok ? `ok: ${outcome.detail}` : `FAILED: ${outcome.reason}`}`);
  };

  const answered = await api.jobs.listJobs({ pageSize: 1 }).then(
    (): Outcome => ({ ok: true, detail: `${settings.url} answered with the key` }),
    fail,
  );
  report('api', answered);
  let targets: Target[] | Outcome = { ok: false, reason: 'not checked: the API did not answer' };
  if (answered.ok) targets = await chooseTargets(api, values.job, values.endpoint).catch(fail);
  if (!Array.isArray(targets)) {
    report('synthetic run', targets);
    report('planner', targets);
  } else {
    const now = Date.now();
    report('synthetic run', await recentSuccess(api, targets, withinMs, now).catch(fail));
    report('planner', await recentAnalysis(api, targets, plannerWithinMs, now).catch(fail));
  }
  const failed = checks.filter(([, outcome]) => !outcome.ok).length;
  if (failed > 0) console.error(`smoke: ${failed} of ${checks.length} checks failed`);
  return failed > 0 ? 1 : 0;
}

/** The endpoints to look at: --endpoint, the live endpoints of --job, or of every synthetic job. */
async function chooseTargets(api: Api, job: string | undefined, endpoint: string | undefined): Promise<Target[] | Outcome> {
  if (endpoint !== undefined) return [{ label: endpoint, endpoint: await api.endpoint(endpoint) }];
  let jobs: Job[];
  if (job !== undefined) {
    const named = await api.job(job);
    if (named.archivedAt) return { ok: false, reason: `job "${job}" is archived` };
    jobs = [named];
  } else {
    jobs = [];
    await eachPage(Number.POSITIVE_INFINITY, async (pageSize, pageToken) => {
      const page = await api.jobs.listJobs({ pageSize, pageToken });
      jobs.push(...page.jobs.filter((each) => each.synthetic));
      return { count: page.jobs.length, next: page.nextPageToken };
    });
    if (jobs.length === 0) return { ok: false, reason: 'no job marked synthetic is visible to this key ("tickwise dev" makes one, "demo"): name one with --job or --endpoint' };
  }
  const targets: Target[] = [];
  for (const each of jobs) {
    if (targets.length >= MAX_ENDPOINTS) break;
    const page = await api.endpoints.listEndpoints({ jobId: each.id, pageSize: MAX_ENDPOINTS - targets.length });
    targets.push(...page.endpoints.map((endpoint) => ({ label: `${each.name}/${endpoint.name}`, endpoint })));
  }
  if (targets.length === 0) return { ok: false, reason: `${jobs.map((each) => `job "${each.name}"`).join(', ')} has no endpoints` };
  return targets;
}

/** `work` over `items`, CONCURRENCY at a time, results in order. */
async function mapLimited<T, R>(items: readonly T[], work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker));
  return results;
}

/** The newest of (label, time) pairs, or undefined. Pure. */
function newest<T extends { at: Date | undefined }>(items: readonly T[]): (T & { at: Date }) | undefined {
  let best: (T & { at: Date }) | undefined;
  for (const item of items) if (item.at && (!best || item.at > best.at)) best = item as T & { at: Date };
  return best;
}

async function recentSuccess(api: Api, targets: readonly Target[], withinMs: number, now: number): Promise<Outcome> {
  const successes = await mapLimited(targets, async (target) => {
    const [run] = (await api.runs.listRuns({ endpointId: target.endpoint.id, status: RunStatus.SUCCEEDED, pageSize: 1 })).runs;
    return { target, run, at: dateOf(run?.finishedAt) };
  });
  const best = newest(successes);
  const ago = (at: Date) => relativeTime(at, new Date(now));
  if (best && now - best.at.getTime() <= withinMs) {
    return { ok: true, detail: `${best.target.label} succeeded ${ago(best.at)} (HTTP ${best.run?.httpStatus ?? '-'}, ${humanDuration(best.run?.durationMs ?? 0)})` };
  }
  // What went wrong instead: the latest run of any status, if there is one.
  const latest = newest(
    await mapLimited(targets, async (target) => {
      const [run] = (await api.runs.listRuns({ endpointId: target.endpoint.id, pageSize: 1 })).runs;
      return { target, run, at: dateOf(run?.finishedAt) };
    }),
  );
  const scope = `${targets.length === 1 ? targets[0]!.label : `${targets.length} endpoints`}`;
  const lastSuccess = best ? `latest success: ${best.target.label} ${ago(best.at)}` : 'never succeeded';
  const lastRun = latest?.run ? `; latest run: ${latest.target.label} ${runStatusName(latest.run.status)} ${ago(latest.at)}${runError(latest.run) ? ` (${runError(latest.run)})` : ''}` : '; no run at all: are scheduler nodes running?';
  return { ok: false, reason: `no successful run of ${scope} in the last ${formatDuration(withinMs)} (${lastSuccess}${lastRun})` };
}

async function recentAnalysis(api: Api, targets: readonly Target[], withinMs: number, now: number): Promise<Outcome> {
  const analyses = await mapLimited(targets, async (target) => {
    const [analysis] = (await api.analyses.listAnalyses({ endpointId: target.endpoint.id, pageSize: 1 })).analyses;
    return { target, analysis, at: dateOf(analysis?.createdAt) };
  });
  const best = newest(analyses);
  const ago = (at: Date) => relativeTime(at, new Date(now));
  if (best && now - best.at.getTime() <= withinMs) {
    return { ok: true, detail: `analysed ${best.target.label} ${ago(best.at)} (${best.analysis!.planner}, ${best.analysis!.trigger}: ${best.analysis!.outcome})` };
  }
  const scope = `${targets.length === 1 ? targets[0]!.label : `${targets.length} endpoints`}`;
  const latest = best ? `latest: ${best.target.label} ${ago(best.at)}` : 'none ever: is "tickwise planner" running?';
  return { ok: false, reason: `no analysis of ${scope} in the last ${formatDuration(withinMs)} (${latest})` };
}
