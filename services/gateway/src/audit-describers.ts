import type { DescMessage, DescService, MessageShape } from '@bufbuild/protobuf';
import { timestampDate, type Timestamp } from '@bufbuild/protobuf/wkt';
import { applyDescription, type ApplyAction } from '@tickwise/catalog';
import { ApiKeyService, EndpointService, HintKind, HintService, JobService, Role, SecretService, SigningService, type EndpointSpec, type NotifyTarget } from '@tickwise/api';

// What the audit trail says of each change the API makes: its target (kind and name) and a summary
// of what changed, built from the request and the answer after the change succeeded. Redacted by
// construction: a summary names headers but never their values, keeps a URL's origin and path but
// never its query or user info, says a body is set but not what it holds, and never copies a
// secret's value, a signing secret or an API key (SetSecret's value, CreateSigningSecret's and
// CreateApiKey's answers are not read). A new procedure gets its describer here (a test fails until
// it has one); until then the interceptor records it with `fallbackDescription`, which keeps only
// ids and names.

export interface Description {
  /** `job orders`, `endpoint orders/poll`, `key ops`, `secret DB_PASSWORD`; empty for the tenant itself. */
  target: string;
  summary: Record<string, unknown>;
}

/** Names of the tenant's objects, for targets: requests carry ids, people read names. */
export interface AuditNames {
  job(jobId: string): Promise<string>;
  /** `job/endpoint`. */
  endpoint(endpointId: string): Promise<string>;
}

type Describer<I, O> = (request: I, response: O, names: AuditNames) => Promise<Description | null> | Description | null;
type Shape<M> = M extends DescMessage ? MessageShape<M> : never;
type DescribersOf<S extends DescService> = { [K in keyof S['method']]?: Describer<Shape<S['method'][K]['input']>, Shape<S['method'][K]['output']>> };

function describers<S extends DescService>(service: S, table: DescribersOf<S>): [string, Describer<unknown, unknown>][] {
  return Object.entries(table).map(([local, describe]) => [`${service.typeName}/${(service.method as Record<string, { name: string }>)[local]!.name}`, describe as Describer<unknown, unknown>]);
}

/** A URL without what may be a credential: origin and path; a query or fragment as `?…`. Pure. */
export function redactUrl(text: string): string {
  try {
    const url = new URL(text);
    return `${url.origin}${url.pathname}${url.search || url.hash ? '?…' : ''}`;
  } catch {
    return '…';
  }
}

const time = (at: Timestamp | undefined) => (at ? timestampDate(at).toISOString() : undefined);

/** Keeps the entries that say something (not undefined, '', [], 0 or false). */
function compact(object: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined && value !== '' && value !== 0 && value !== false && !(Array.isArray(value) && value.length === 0)));
}

/** An endpoint spec as the audit keeps it: its settings, header names only, whether a body is set. */
export function specSummary(spec: EndpointSpec | undefined): Record<string, unknown> | undefined {
  if (!spec) return undefined;
  const schedule = spec.schedule?.kind;
  return compact({
    url: redactUrl(spec.url),
    method: spec.method,
    schedule: schedule?.case === 'every' ? { every: schedule.value } : schedule?.case === 'cron' ? { cron: schedule.value.expression, timezone: schedule.value.timezone } : undefined,
    headers: Object.keys(spec.headers),
    body: spec.body ? 'set (not recorded)' : undefined,
    minInterval: spec.minInterval,
    maxInterval: spec.maxInterval,
    jitter: spec.jitter,
    timeout: spec.timeout,
    catchUp: spec.catchUp,
    retry: spec.retry ? compact({ attempts: spec.retry.attempts, backoff: spec.retry.backoff, maxBackoff: spec.retry.maxBackoff, on: spec.retry.on }) : undefined,
    success: spec.success ? compact({ status: spec.success.status, bodyContains: spec.success.bodyContains ? 'set (not recorded)' : undefined }) : undefined,
    overlap: spec.overlap,
    pauseAfter: spec.pauseAfter,
  });
}

/** Notify targets: the channel, the redacted URL (a Slack webhook's path is its credential: kept as the origin only), `after`. */
function notifySummary(targets: readonly NotifyTarget[]): Record<string, unknown>[] {
  return targets.map((target) => ({ channel: target.target.case ?? '', url: target.target.case === 'slack' ? `${redactUrl(target.target.value).split('/').slice(0, 3).join('/')}/…` : redactUrl(target.target.value ?? ''), after: target.after || 3 }));
}

const HINT_KINDS: Record<number, string> = { [HintKind.INTERVAL]: 'interval', [HintKind.RUN_AT]: 'run_at', [HintKind.PAUSE_UNTIL]: 'pause_until' };
const ROLES: Record<number, string> = { [Role.READ]: 'read', [Role.WRITE]: 'write', [Role.ADMIN]: 'admin' };

/** The describer of each procedure that changes something, by procedure name. */
export const AUDIT_DESCRIBERS: ReadonlyMap<string, Describer<unknown, unknown>> = new Map([
  ...describers(JobService, {
    createJob: (request, response) => ({
      target: `job ${request.name}`,
      summary: compact({ jobId: response.job?.id, synthetic: request.synthetic, changes: response.changes.map((change) => ({ endpoint: change.endpoint || undefined, action: change.action })), endpoints: request.endpoints.map((spec) => ({ name: spec.name, ...specSummary(spec) })), notify: notifySummary(request.notify) }),
    }),
    updateJob: (request, response) => ({
      target: `job ${response.job?.name ?? request.jobId}`,
      summary: compact({ jobId: request.jobId, synthetic: request.synthetic, notify: request.notify ? notifySummary(request.notify.targets) : undefined, notifyCleared: request.notify?.targets.length === 0 ? true : undefined }),
    }),
    pauseJob: async (request, response, names) => ({ target: `job ${await names.job(request.jobId)}`, summary: compact({ jobId: request.jobId, reason: request.reason, until: time(request.until), endpoints: response.endpointIds.length }) }),
    resumeJob: async (request, response, names) => ({ target: `job ${await names.job(request.jobId)}`, summary: { jobId: request.jobId, endpoints: response.endpointIds.length } }),
    archiveJob: (request, response) => ({ target: `job ${response.job?.name ?? request.jobId}`, summary: { jobId: request.jobId, archivedEndpoints: response.archivedEndpoints } }),
    // A dry run changes nothing: it is not recorded. An apply records its change list, as the CLI prints it.
    applyJobs: (request, response) =>
      request.dryRun
        ? null
        : applyDescription(
            request.jobs.map((job) => job.name),
            response.changes.map((change) => ({ job: change.job, endpoint: change.endpoint || null, action: change.action as ApplyAction, ...(change.note ? { note: change.note } : {}) })),
          ),
  }),
  ...describers(EndpointService, {
    createEndpoint: async (request, response, names) => ({
      target: `endpoint ${await names.endpoint(response.endpoint?.id ?? '')}`,
      summary: compact({ endpointId: response.endpoint?.id, action: response.action, spec: specSummary(request.endpoint) }),
    }),
    updateEndpoint: async (request, response, names) => ({
      target: `endpoint ${await names.endpoint(request.endpointId)}`,
      summary: compact({ endpointId: request.endpointId, action: response.action, spec: specSummary(request.spec) }),
    }),
    pauseEndpoint: async (request, _response, names) => ({ target: `endpoint ${await names.endpoint(request.endpointId)}`, summary: compact({ endpointId: request.endpointId, reason: request.reason, until: time(request.until) }) }),
    resumeEndpoint: async (request, _response, names) => ({ target: `endpoint ${await names.endpoint(request.endpointId)}`, summary: { endpointId: request.endpointId } }),
    archiveEndpoint: async (request, _response, names) => ({ target: `endpoint ${await names.endpoint(request.endpointId)}`, summary: { endpointId: request.endpointId } }),
    triggerEndpoint: async (request, response, names) => ({ target: `endpoint ${await names.endpoint(request.endpointId)}`, summary: compact({ endpointId: request.endpointId, hintId: response.hintId, reason: request.reason }) }),
  }),
  ...describers(HintService, {
    addHint: async (request, response, names) => ({
      target: `endpoint ${await names.endpoint(request.endpointId)}`,
      summary: compact({ endpointId: request.endpointId, hintId: response.hint?.id, kind: HINT_KINDS[request.kind], interval: request.interval, at: time(request.at), expiresAt: time(response.hint?.expiresAt), reason: request.reason }),
    }),
    clearHint: async (request, _response, names) => ({ target: `endpoint ${await names.endpoint(request.endpointId)}`, summary: { endpointId: request.endpointId, hintId: request.hintId } }),
  }),
  ...describers(ApiKeyService, {
    // Never the answer's `key`: only its id and role.
    createApiKey: (request, response) => ({ target: `key ${request.name}`, summary: { apiKeyId: response.apiKey?.id ?? '', role: ROLES[request.role] ?? '' } }),
    revokeApiKey: (request, response) => ({ target: `key ${response.apiKey?.name ?? request.apiKeyId}`, summary: { apiKeyId: request.apiKeyId } }),
  }),
  ...describers(SecretService, {
    // By name only: the request's value is never read here.
    setSecret: (request, response) => ({ target: `secret ${request.name}`, summary: { created: response.created } }),
    deleteSecret: (request) => ({ target: `secret ${request.name}`, summary: {} }),
  }),
  ...describers(SigningService, {
    // Never the answer's `secret`: only the id of the signing secret made.
    createSigningSecret: async (request, response, names) => ({ target: request.endpointId ? `endpoint ${await names.endpoint(request.endpointId)}` : '', summary: { signingSecretId: response.signingSecret?.id ?? '' } }),
    rotateSigningSecret: async (request, response, names) => ({
      target: request.endpointId ? `endpoint ${await names.endpoint(request.endpointId)}` : '',
      summary: compact({ signingSecretId: response.signingSecret?.id, grace: request.grace, retired: response.retired.map((each) => each.id) }),
    }),
    revokeSigningSecret: async (request, response, names) => ({ target: response.signingSecret?.endpointId ? `endpoint ${await names.endpoint(response.signingSecret.endpointId)}` : '', summary: { signingSecretId: request.signingSecretId } }),
  }),
]);

/**
 * What is recorded of a change whose procedure has no describer yet: the request's ids and names
 * (fields called `*_id` or `name`) and the names of the other fields it set, never their values.
 */
export function fallbackDescription(input: DescMessage, request: Record<string, unknown>): Description {
  const summary: Record<string, unknown> = {};
  const set: string[] = [];
  for (const field of input.fields) {
    const value = request[field.localName];
    if (value === undefined || value === '' || (Array.isArray(value) && value.length === 0)) continue;
    if (field.fieldKind === 'scalar' && typeof value === 'string' && (field.name === 'name' || field.name.endsWith('_id'))) summary[field.jsonName] = value;
    else set.push(field.jsonName);
  }
  const name = typeof request.name === 'string' ? request.name : '';
  return { target: name, summary: { ...summary, ...(set.length > 0 ? { fieldsSet: set } : {}) } };
}
