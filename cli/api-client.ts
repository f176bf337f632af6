import { toJson, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient, type Client, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { parseApiKey } from '@tickwise/gateway';
import { nameSchema } from '@tickwise/machines';
import { AnalysisService, BadRequestSchema, type Endpoint, EndpointService, HintService, type Job, JobService, NotificationService, RunService, SecretService, SigningService } from '@tickwise/api';
import { AuditService } from '@tickwise/api';
import { envText, invalidConfig, isTickwiseError, isUuid, TickwiseError, type ErrorCode, type FieldViolation } from '@tickwise/platform';
import { invalidArgument } from './settings.ts';

/** Where the API is and the key to call it with: TICKWISE_URL and TICKWISE_API_KEY. */
export interface ApiSettings {
  /** Without a trailing slash. */
  url: string;
  key: string;
}

/** How long one call may take before the CLI gives up on it. */
export const API_CALL_TIMEOUT_MS = 30_000;

/** Reads and checks TICKWISE_URL and TICKWISE_API_KEY once; `command` names the command in messages. */
export function readApiSettings(env: NodeJS.ProcessEnv, command: string): ApiSettings {
  const raw = envText(env, 'TICKWISE_URL');
  if (!raw) throw invalidConfig(`TICKWISE_URL is not set: "tickwise ${command}" talks to the API (e.g. TICKWISE_URL=http://127.0.0.1:8080, where "tickwise gateway" listens)`);
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password || url.search || url.hash) {
    throw invalidConfig(`TICKWISE_URL must be an http:// or https:// URL such as http://127.0.0.1:8080 (no credentials, query or fragment), got "${raw}"`);
  }
  const key = envText(env, 'TICKWISE_API_KEY');
  if (!key) throw invalidConfig(`TICKWISE_API_KEY is not set: "tickwise ${command}" needs an API key (an operator makes one with "tickwise keys create")`);
  // The key itself is never echoed: it is a secret even when mistyped.
  if (!parseApiKey(key.trim())) throw invalidConfig('TICKWISE_API_KEY is not a Tickwise API key (tw_<12 hex digits>_<secret>, as "tickwise keys create" prints it)');
  return { url: url.toString().replace(/\/+$/, ''), key: key.trim() };
}

/** gRPC status codes by their snake_case names (the gRPC status table's), and the code of ours each is. */
const OUR_CODE = {
  canceled: 'unavailable',
  unknown: 'internal',
  invalid_argument: 'invalid_argument',
  deadline_exceeded: 'deadline_exceeded',
  not_found: 'not_found',
  already_exists: 'already_exists',
  permission_denied: 'permission_denied',
  resource_exhausted: 'resource_exhausted',
  failed_precondition: 'failed_precondition',
  aborted: 'failed_precondition',
  out_of_range: 'invalid_argument',
  // The server has no such procedure: another address than the gateway's, or an older gateway.
  unimplemented: 'not_found',
  internal: 'internal',
  unavailable: 'unavailable',
  data_loss: 'internal',
  unauthenticated: 'unauthenticated',
} as const satisfies Record<string, ErrorCode>;
export type GrpcCodeName = keyof typeof OUR_CODE;

/**
 * What the API refused, or a call that could not be made: TickwiseError `fromApi`, so the CLI exits
 * with 1 whatever the code (an API's invalid_argument is not a mistake on this command line). The
 * message names the gRPC code; so does `reason`.
 */
export function apiError(grpcCode: GrpcCodeName, message: string, violations: readonly FieldViolation[] = []): TickwiseError {
  return new TickwiseError(OUR_CODE[grpcCode], message, { fromApi: true, reason: grpcCode, violations });
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'ERR_SSL_WRONG_VERSION_NUMBER', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_HAS_EXPIRED', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN']);

/** The errno-style code of the network failure under a ConnectError, if that is what it is. */
function networkCause(error: ConnectError): string | undefined {
  for (let cause: unknown = error.cause, depth = 0; cause && depth < 5; cause = (cause as { cause?: unknown }).cause, depth++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string' && (NETWORK_CODES.has(code) || code.startsWith('ERR_SSL') || code.startsWith('ERR_HTTP2'))) return code;
  }
  return undefined;
}

/** Connect's Code as the snake_case name the gRPC status table uses. Pure. */
export function codeName(code: Code): GrpcCodeName {
  return Code[code].replace(/[A-Z]/g, (letter, index: number) => `${index > 0 ? '_' : ''}${letter.toLowerCase()}`) as GrpcCodeName;
}

/** Anything a call threw, as one clear line naming the code; TickwiseErrors (the API's, or of local input) pass through. */
export function toApiError(error: unknown, settings: ApiSettings): Error {
  if (isTickwiseError(error)) return error;
  if (!(error instanceof ConnectError)) return error as Error;
  const code = codeName(error.code);
  const said = error.rawMessage;
  switch (error.code) {
    case Code.Unauthenticated:
      return apiError(code, `the API key was refused (unauthenticated: ${said}): check TICKWISE_API_KEY (revoked, or of another deployment?)`);
    case Code.PermissionDenied:
      return apiError(code, `the API key may not do this (permission_denied: ${said})`);
    case Code.NotFound:
      return apiError(code, `not found (not_found): ${said}`);
    case Code.InvalidArgument: {
      const violations = error.findDetails(BadRequestSchema).flatMap((detail) => detail.fieldViolations.map(({ field, reason }) => ({ field, reason })));
      const text = violations.length > 0 ? violations.map((v) => (v.field ? `${v.field}: ${v.reason}` : v.reason)).join('; ') : said;
      return apiError(code, `the API refused the request (invalid_argument): ${text}`, violations);
    }
    case Code.Unavailable: {
      const network = networkCause(error);
      if (network) return apiError(code, `cannot reach TICKWISE_URL (${settings.url}): ${said} (unavailable): is "tickwise gateway" running there?`);
      return apiError(code, `the API is unavailable (unavailable: ${said}); try again`);
    }
    case Code.DeadlineExceeded:
      return apiError(code, `the API at TICKWISE_URL (${settings.url}) did not answer within ${API_CALL_TIMEOUT_MS / 1_000}s (deadline_exceeded)`);
    case Code.Unimplemented:
      return apiError(code, `TICKWISE_URL (${settings.url}) does not serve this call of the Tickwise API (unimplemented: ${said}): is it the gateway's address?`);
    default:
      return apiError(code, `the API answered ${code}: ${said}`);
  }
}

/** The API's clients with the key, and the lookups the commands share. */
export class Api {
  readonly jobs: Client<typeof JobService>;
  readonly endpoints: Client<typeof EndpointService>;
  readonly runs: Client<typeof RunService>;
  readonly hints: Client<typeof HintService>;
  readonly analyses: Client<typeof AnalysisService>;
  readonly notifications: Client<typeof NotificationService>;
  readonly secrets: Client<typeof SecretService>;
  readonly signing: Client<typeof SigningService>;
  readonly audit: Client<typeof AuditService>;

  constructor(readonly settings: ApiSettings) {
    const bearer: Interceptor = (next) => (request) => {
      request.header.set('authorization', `Bearer ${settings.key}`);
      return next(request);
    };
    const transport = createConnectTransport({ baseUrl: settings.url, httpVersion: '1.1', interceptors: [bearer], defaultTimeoutMs: API_CALL_TIMEOUT_MS });
    this.jobs = createClient(JobService, transport);
    this.endpoints = createClient(EndpointService, transport);
    this.runs = createClient(RunService, transport);
    this.hints = createClient(HintService, transport);
    this.analyses = createClient(AnalysisService, transport);
    this.notifications = createClient(NotificationService, transport);
    this.secrets = createClient(SecretService, transport);
    this.signing = createClient(SigningService, transport);
    this.audit = createClient(AuditService, transport);
  }

  /** A job by id or name (an archived one only when no live one has the name). */
  async job(ref: string): Promise<Job> {
    if (isUuid(ref)) return (await this.jobs.getJob({ jobId: ref })).job!;
    if (!nameSchema.safeParse(ref).success) throw invalidArgument(`"${ref}" is not a job name or id (names are 1-63 letters, digits, ".", "_" or "-")`);
    const job = await this.findJob(ref);
    if (!job) throw apiError('not_found', `not found: no job named "${ref}" (for this API key's tenant)`);
    return job;
  }

  /** The job of that exact name, archived or not, or undefined. */
  async findJob(name: string): Promise<Job | undefined> {
    const matches: Job[] = [];
    await eachPage(Number.POSITIVE_INFINITY, async (pageSize, pageToken) => {
      const page = await this.jobs.listJobs({ namePrefix: name, includeArchived: true, pageSize, pageToken });
      matches.push(...page.jobs.filter((job) => job.name === name));
      return { count: page.jobs.length, next: page.nextPageToken };
    });
    return matches.find((each) => !each.archivedAt) ?? matches[0];
  }

  /** Every endpoint of a job, archived ones too, in creation order. */
  async endpointsOf(jobId: string): Promise<Endpoint[]> {
    const endpoints: Endpoint[] = [];
    await eachPage(Number.POSITIVE_INFINITY, async (pageSize, pageToken) => {
      const page = await this.endpoints.listEndpoints({ jobId, includeArchived: true, pageSize, pageToken });
      endpoints.push(...page.endpoints);
      return { count: page.endpoints.length, next: page.nextPageToken };
    });
    return endpoints;
  }

  /** An endpoint by id, or by `<job>/<endpoint>` name (an archived one only when no live one has the name). */
  async endpoint(ref: string): Promise<Endpoint> {
    // Split before the id test: isUuid is a type guard, and leaves `ref` typed `never` when it is false.
    const slash = ref.indexOf('/');
    const jobName = ref.slice(0, slash);
    const name = ref.slice(slash + 1);
    if (isUuid(ref)) return (await this.endpoints.getEndpoint({ endpointId: ref })).endpoint!;
    if (slash < 0 || !nameSchema.safeParse(jobName).success || !nameSchema.safeParse(name).success) {
      throw invalidArgument(`"${ref}" is not an endpoint: give its id or <job>/<endpoint> (e.g. demo/health)`);
    }
    const job = await this.job(jobName);
    const matches: Endpoint[] = [];
    await eachPage(Number.POSITIVE_INFINITY, async (pageSize, pageToken) => {
      const page = await this.endpoints.listEndpoints({ jobId: job.id, namePrefix: name, includeArchived: true, pageSize, pageToken });
      matches.push(...page.endpoints.filter((endpoint) => endpoint.name === name));
      return { count: page.endpoints.length, next: page.nextPageToken };
    });
    const endpoint = matches.find((each) => !each.archivedAt) ?? matches[0];
    if (!endpoint) throw apiError('not_found', `not found: job "${jobName}" has no endpoint named "${name}"`);
    return endpoint;
  }

  /** Every job of the tenant (archived ones too), by id: to show job names next to endpoints. */
  async jobNames(): Promise<Map<string, string>> {
    const names = new Map<string, string>();
    await eachPage(Number.POSITIVE_INFINITY, async (pageSize, pageToken) => {
      const page = await this.jobs.listJobs({ includeArchived: true, pageSize, pageToken });
      for (const job of page.jobs) names.set(job.id, job.name);
      return { count: page.jobs.length, next: page.nextPageToken };
    });
    return names;
  }
}

/** The largest page the API serves. */
export const MAX_PAGE_SIZE = 500;

/**
 * Follows a list's pages until `limit` items came or the last page: `fetch` gets the page size to
 * ask for and the token, and says how many items it got and the next token (empty on the last page).
 * Returns whether more were left when the limit stopped it.
 */
export async function eachPage(limit: number, fetch: (pageSize: number, pageToken: string) => Promise<{ count: number; next: string }>): Promise<{ more: boolean }> {
  let token = '';
  let seen = 0;
  for (;;) {
    const { count, next } = await fetch(Math.min(MAX_PAGE_SIZE, limit - seen), token);
    seen += count;
    if (!next) return { more: false };
    if (seen >= limit) return { more: true };
    token = next;
  }
}

/** Opens the API from the environment, runs `work`, and turns what the API refused into `apiError`s. */
export async function withApi<T>(env: NodeJS.ProcessEnv, command: string, work: (api: Api) => Promise<T>): Promise<T> {
  const settings = readApiSettings(env, command);
  try {
    return await work(new Api(settings));
  } catch (error) {
    throw toApiError(error, settings);
  }
}

/** Prints a message in its proto JSON form (what the Connect JSON API answers), indented. */
export function printJson<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): void {
  console.log(JSON.stringify(toJson(schema, message), null, 2));
}
