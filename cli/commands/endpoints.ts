import { create, toJson } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { eachPage, printJson, withApi, type Api } from '../api-client.ts';
import { dateOf, hintKindName, hintValue, parseDurationOption, parseLimit, parseStates, scheduleText, stateName } from '../api-format.ts';
import { type Endpoint, EndpointSchema, type NotifyTarget, ListEndpointsResponseSchema, type Machine, MachineSchema, MachineState, PauseEndpointResponseSchema, ResumeEndpointResponseSchema, TriggerEndpointResponseSchema } from '@tickwise/api';
import { invalidArgument } from '../settings.ts';
import { relativeTime, renderFields, renderTable, timeWithRelative, truncate } from '../table.ts';
import { checkArgs, parseApiArgs } from './api-args.ts';
import { parsePreviewCount, parsePreviewFrom, previewCommand } from './endpoint-preview.ts';

export const ENDPOINTS_HELP = `tickwise endpoints: endpoints over the API (TICKWISE_URL, TICKWISE_API_KEY)

  endpoints list [--job <job>] [--state <idle,due,running,planning,paused>] [--name <prefix>]
                 [--archived] [--limit <n, default 100>]
  endpoints get <endpoint>                 the spec, the machine, active hints, recent transitions
  endpoints pause <endpoint> [--reason <text>] [--for <duration>]   a person's pause (until resumed)
  endpoints resume <endpoint>
  endpoints trigger <endpoint> [--reason <text>]   run once now; the schedule is unchanged
  endpoints preview <endpoint> [--count <1-100, default 10>] [--from <RFC 3339 time>]
                                           the next runs of its baseline schedule, UTC and local,
                                           DST shifts marked

<endpoint> is an endpoint id or <job>/<endpoint> (e.g. demo/health). --json prints the API's JSON.`;

const ALLOWED: Record<string, readonly string[]> = {
  list: ['job', 'state', 'name', 'archived', 'limit', 'json'],
  get: ['json'],
  pause: ['reason', 'for', 'json'],
  resume: ['json'],
  trigger: ['reason', 'json'],
  preview: ['count', 'from', 'json'],
};

/** `tickwise endpoints …`. */
export async function endpointsCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { positionals, values } = parseApiArgs(argv);
  const [action, ...rest] = positionals;
  if (values.help || !action) {
    console.log(ENDPOINTS_HELP);
    return values.help ? 0 : 2;
  }
  if (!Object.hasOwn(ALLOWED, action)) throw invalidArgument(`unknown action "${action}" for "tickwise endpoints" (${Object.keys(ALLOWED).join(', ')})`);
  checkArgs(`endpoints ${action}`, values, ALLOWED[action]!, rest, action === 'list' ? 0 : 1);
  // Options are checked before any call, so bad input never waits on the network.
  const limit = parseLimit(values.limit, 100, 100_000);
  const states = values.state === undefined ? [] : parseStates(values.state);
  const pauseMs = values.for === undefined ? undefined : parseDurationOption('--for', values.for, 0);
  const json = values.json ?? false;
  const count = parsePreviewCount(values.count);
  const from = parsePreviewFrom(values.from);
  return withApi(env, `endpoints ${action}`, async (api) => {
    switch (action) {
      case 'list':
        return list(api, { job: values.job, states, name: values.name, archived: values.archived ?? false, limit, json });
      case 'get':
        return get(api, rest[0]!, json);
      case 'preview':
        return previewCommand(api, rest[0]!, count, from, json);
      case 'pause': {
        const endpoint = await api.endpoint(rest[0]!);
        const until = pauseMs === undefined ? undefined : timestampFromDate(new Date(Date.now() + pauseMs));
        const reason = values.reason ?? 'paused with the tickwise CLI';
        const response = await api.endpoints.pauseEndpoint({ endpointId: endpoint.id, reason, until });
        if (json) printJson(PauseEndpointResponseSchema, response);
        else console.log(`paused ${label(rest[0]!, endpoint)} ${until ? `until ${timeWithRelative(dateOf(until), new Date())}` : 'until resumed'}: ${reason}`);
        return 0;
      }
      case 'resume': {
        const endpoint = await api.endpoint(rest[0]!);
        const response = await api.endpoints.resumeEndpoint({ endpointId: endpoint.id });
        if (json) printJson(ResumeEndpointResponseSchema, response);
        else console.log(`resumed ${label(rest[0]!, endpoint)}: ${stateName(response.endpoint!.state)}, next run ${relativeTime(dateOf(response.endpoint!.nextRunAt), new Date())} (${response.endpoint!.reason})`);
        return 0;
      }
      default: {
        const endpoint = await api.endpoint(rest[0]!);
        const response = await api.endpoints.triggerEndpoint({ endpointId: endpoint.id, reason: values.reason ?? 'triggered with the tickwise CLI' });
        if (json) printJson(TriggerEndpointResponseSchema, response);
        else {
          const when = relativeTime(dateOf(response.nextRunAt), new Date());
          console.log(`triggered ${label(rest[0]!, endpoint)}: next run ${when} (${response.reason})${response.note ? `; ${response.note}` : ''}`);
        }
        return 0;
      }
    }
  });
}

/** The endpoint as the user named it, or `<id> (<name>)` when they gave an id. */
function label(ref: string, endpoint: Endpoint): string {
  return ref.includes('/') ? ref : `${endpoint.name} (${endpoint.id})`;
}

interface ListOptions {
  job: string | undefined;
  states: MachineState[];
  name: string | undefined;
  archived: boolean;
  limit: number;
  json: boolean;
}

async function list(api: Api, options: ListOptions): Promise<number> {
  const jobId = options.job === undefined ? '' : (await api.job(options.job)).id;
  const endpoints: Endpoint[] = [];
  const { more } = await eachPage(options.limit, async (pageSize, pageToken) => {
    const page = await api.endpoints.listEndpoints({ jobId, states: options.states, namePrefix: options.name ?? '', includeArchived: options.archived, pageSize, pageToken });
    endpoints.push(...page.endpoints);
    return { count: page.endpoints.length, next: page.nextPageToken };
  });
  const shown = endpoints.slice(0, options.limit);
  if (more) console.error(`more endpoints match than --limit ${options.limit}: showing the first ${shown.length}`);
  if (options.json) {
    printJson(ListEndpointsResponseSchema, create(ListEndpointsResponseSchema, { endpoints: shown }));
    return 0;
  }
  if (shown.length === 0) {
    console.log('no endpoints match');
    return 0;
  }
  const jobs = await api.jobNames();
  const now = new Date();
  const rows = shown.map((endpoint) => [
    `${jobs.get(endpoint.jobId) ?? endpoint.jobId}/${endpoint.name}`,
    endpoint.archivedAt ? 'archived' : stateName(endpoint.state),
    endpoint.archivedAt ? '-' : relativeTime(dateOf(endpoint.nextRunAt), now),
    scheduleText(endpoint.spec),
    truncate(endpoint.pause ? `paused by a person: ${endpoint.pause.reason}` : endpoint.reason, 70),
  ]);
  console.log(renderTable(['ENDPOINT', 'STATE', 'NEXT RUN', 'SCHEDULE', 'REASON'], rows));
  return 0;
}

async function get(api: Api, ref: string, json: boolean): Promise<number> {
  const endpoint = await api.endpoint(ref);
  const { machine } = await api.endpoints.getMachine({ endpointId: endpoint.id, transitionLimit: 10 });
  if (json) {
    console.log(JSON.stringify({ endpoint: toJson(EndpointSchema, endpoint), machine: toJson(MachineSchema, machine!) }, null, 2));
    return 0;
  }
  const { job } = await api.jobs.getJob({ jobId: endpoint.jobId });
  console.log(describe(job?.name ?? endpoint.jobId, endpoint, machine!, new Date(), job?.notify ?? []));
  return 0;
}

/** The `endpoints get` view. Pure. */
export function describe(jobName: string, endpoint: Endpoint, machine: Machine, now: Date, notify: readonly NotifyTarget[] = []): string {
  const spec = endpoint.spec!;
  const bounds = [spec.minInterval && `min ${spec.minInterval}`, spec.maxInterval && `max ${spec.maxInterval}`].filter(Boolean).join(', ');
  const fields: [string, string][] = [
    ['endpoint', `${jobName}/${endpoint.name}`],
    ['id', endpoint.id],
    ['job id', endpoint.jobId],
    ['call', `${spec.method || 'GET'} ${spec.url}`],
    ['schedule', `${scheduleText(spec)}${bounds ? ` (${bounds})` : ''}`],
    ['timeout', `${spec.timeout}, jitter ${spec.jitter || 'none'}, catch-up ${spec.catchUp || 'skip'}, overlap ${spec.overlap || 'queue'}`],
    ['retry', spec.retry ? `${spec.retry.attempts} attempts a slot, backoff ${spec.retry.backoff} to ${spec.retry.maxBackoff}, on ${spec.retry.on.join(', ')}` : 'none (one attempt a slot)'],
    ['success', `${spec.success?.status.join(', ') || '2xx'}${spec.success?.bodyContains ? `, body contains ${JSON.stringify(spec.success.bodyContains)}` : ''}`],
    ['pause after', spec.pauseAfter ? `${spec.pauseAfter} consecutive failed slots` : 'never'],
    ['notify', notifyText(notify)],
    ['state', endpoint.archivedAt ? `archived ${timeWithRelative(dateOf(endpoint.archivedAt), now)}` : stateName(machine.state)],
    ['next run', timeWithRelative(dateOf(machine.nextRunAt), now)],
    ['why', machine.reason || '-'],
    ['decided by', machine.source || '-'],
    ['last outcome', `${machine.lastOutcome || 'no run yet'}${machine.consecutiveFailures > 0 ? ` (${machine.consecutiveFailures} consecutive failure${machine.consecutiveFailures === 1 ? '' : 's'})` : ''}`],
    ['last slot', timeWithRelative(dateOf(machine.lastSlot), now)],
  ];
  if (machine.pause) fields.push(['paused', `by a person: ${machine.pause.reason} (${machine.pause.until ? `until ${timeWithRelative(dateOf(machine.pause.until), now)}` : 'until resumed'})`]);
  if (machine.leaseOwner) fields.push(['held by', `${machine.leaseOwner} until ${timeWithRelative(dateOf(machine.leaseExpiresAt), now)}`]);
  if (machine.hintsPending) fields.push(['hints pending', 'yes: re-planned once the machine is free']);
  fields.push(['version', String(machine.version)]);
  let text = renderFields(fields);
  if (machine.activeHints.length > 0) {
    const rows = machine.activeHints.map((hint) => [hintKindName(hint.kind), hintValue(hint, now), hint.source, relativeTime(dateOf(hint.expiresAt), now), truncate(hint.reason, 60)]);
    text += `\n\nactive hints:\n${renderTable(['KIND', 'VALUE', 'SOURCE', 'EXPIRES', 'REASON'], rows)}`;
  }
  if (machine.transitions.length > 0) {
    const rows = machine.transitions.map((step) => [
      relativeTime(dateOf(step.at), now),
      `${step.from === MachineState.UNSPECIFIED ? '' : `${stateName(step.from)} → `}${stateName(step.to)}`,
      step.event,
      truncate(step.reason, 70),
    ]);
    text += `\n\nrecent transitions (oldest first):\n${renderTable(['AT', 'STEP', 'EVENT', 'REASON'], rows)}`;
  }
  return text;
}

/** The job's notify targets on one line: `webhook https://… (failing after 3 failed slots); slack …`. Pure. */
export function notifyText(targets: readonly NotifyTarget[]): string {
  if (targets.length === 0) return 'nobody (the job has no notify targets)';
  return targets.map((target) => `${target.target.case ?? '?'} ${target.target.value ?? ''} (failing after ${target.after} failed slot${target.after === 1 ? '' : 's'})`).join('; ');
}
