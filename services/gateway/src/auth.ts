import type { DescService } from '@bufbuild/protobuf';
import { createContextKey, type HandlerContext, type Interceptor, type StreamResponse } from '@connectrpc/connect';
import type { ApiKeyRole, Queryable } from '@tickwise/db';
import { authenticate, type Caller } from './api-keys.ts';
import type { AuthLimits } from './auth-limits.ts';
import { TickwiseError, type Logger } from '@tickwise/platform';
import { toConnectError } from './errors.ts';
import { AuditService } from '@tickwise/api';
import { AnalysisService, ApiKeyService, EndpointService, HintService, JobService, NodeService, NotificationService, OverviewService, RunService, SecretService, SigningService, WatchService } from '@tickwise/api';

const RANK: Record<ApiKeyRole, number> = { read: 0, write: 1, admin: 2 };

/** The role each procedure needs; typed by the service, so a procedure added to the proto without a role does not compile. */
function roles<S extends DescService & { method: Record<string, { name: string }> }>(service: S, table: { [K in keyof S['method']]: ApiKeyRole }): [string, ApiKeyRole][] {
  return Object.entries(table).map(([local, role]) => [`${service.typeName}/${service.method[local]!.name}`, role as ApiKeyRole]);
}

export const PROCEDURE_ROLES: ReadonlyMap<string, ApiKeyRole> = new Map([
  ...roles(JobService, { createJob: 'write', getJob: 'read', listJobs: 'read', updateJob: 'write', pauseJob: 'write', resumeJob: 'write', archiveJob: 'write', applyJobs: 'write' }),
  ...roles(EndpointService, {
    createEndpoint: 'write',
    getEndpoint: 'read',
    listEndpoints: 'read',
    updateEndpoint: 'write',
    pauseEndpoint: 'write',
    resumeEndpoint: 'write',
    archiveEndpoint: 'write',
    triggerEndpoint: 'write',
    getMachine: 'read',
    previewSchedule: 'read',
  }),
  ...roles(RunService, { listRuns: 'read', getRun: 'read' }),
  ...roles(HintService, { listHints: 'read', addHint: 'write', clearHint: 'write' }),
  ...roles(AnalysisService, { listAnalyses: 'read', getAnalysis: 'read' }),
  ...roles(WatchService, { watch: 'read' }),
  ...roles(OverviewService, { whoAmI: 'read', listEndpointSummaries: 'read' }),
  ...roles(NodeService, { listLeases: 'read' }),
  ...roles(NotificationService, { listNotifications: 'read' }),
  ...roles(ApiKeyService, { createApiKey: 'admin', listApiKeys: 'admin', revokeApiKey: 'admin' }),
  // Values are write-only: a read key sees names; setting one is a change like any other.
  ...roles(SecretService, { setSecret: 'write', listSecrets: 'read', deleteSecret: 'write' }),
  // A signing secret is a credential shown once, like an API key: admin makes, rotates and revokes them.
  ...roles(SigningService, { createSigningSecret: 'admin', rotateSigningSecret: 'admin', revokeSigningSecret: 'admin', listSigningSecrets: 'read' }),
  // The trail names keys and who changed what: it is for whoever administers the tenant, as its keys are.
  ...roles(AuditService, { listAuditEvents: 'admin' }),
]);

const callerKey = createContextKey<Caller | null>(null, { description: 'the authenticated caller' });
/** The client's address (the TCP peer), set by the server for every call: failed authentications are limited per address. */
export const peerAddressKey = createContextKey<string | undefined>(undefined, { description: 'the client address' });

/** The caller the auth interceptor resolved; every handler takes its tenant from here. */
export function callerOf(context: Pick<HandlerContext, 'values'>): Caller {
  const caller = context.values.get(callerKey);
  // Unreachable through the server (the interceptor runs first); a handler called otherwise must not guess a tenant.
  if (!caller) throw new Error('no authenticated caller in the handler context');
  return caller;
}

/**
 * Resolves the API key (Authorization header or gRPC metadata) and checks the procedure's role;
 * with `limits`, failed authentications are limited per client address (see AuthLimits).
 */
export function authInterceptor(db: Queryable, log: Logger, limits?: AuthLimits): Interceptor {
  return (next) => async (request) => {
    const procedure = `${request.service.typeName}/${request.method.name}`;
    const required = PROCEDURE_ROLES.get(procedure);
    if (!required) throw new TickwiseError('permission_denied', `no key may call ${procedure}`);
    const header = request.header.get('authorization');
    const caller = limits ? await limits.authenticate(db, header, request.contextValues.get(peerAddressKey), log) : await authenticate(db, header, log);
    if (RANK[caller.role] < RANK[required]) throw new TickwiseError('permission_denied', `${request.method.name} needs a ${required} key; this key is ${caller.role}`);
    request.contextValues.set(callerKey, caller);
    return next(request);
  };
}

/** The outermost interceptor: every error, of a unary call or in the middle of a stream, leaves as a ConnectError. */
export function errorInterceptor(log: Logger): Interceptor {
  return (next) => async (request) => {
    const procedure = `${request.service.typeName}/${request.method.name}`;
    try {
      const response = await next(request);
      if (!response.stream) return response;
      return { ...response, message: mapStreamErrors(response.message, log, procedure) } as StreamResponse;
    } catch (error) {
      throw toConnectError(error, log, procedure);
    }
  };
}

async function* mapStreamErrors<T>(messages: AsyncIterable<T>, log: Logger, procedure: string): AsyncIterable<T> {
  try {
    yield* messages;
  } catch (error) {
    throw toConnectError(error, log, procedure);
  }
}
