import type { Interceptor } from '@connectrpc/connect';
import { getEndpoint, getJob, insertAuditEvent, newId, withRetry, type NewAuditEvent, type Queryable } from '@tickwise/db';
import type { Logger } from '@tickwise/platform';
import { AUDIT_DESCRIBERS, fallbackDescription, type AuditNames, type Description } from './audit-describers.ts';
import { callerOf } from './auth.ts';
import { gatewayMetrics } from './metrics.ts';

// The audit trail of the API: every procedure that changes something is recorded by this one
// interceptor, after its handler succeeded, with the key that called it. A procedure is a change
// unless its name says it reads (Get…, List…, Watch, WhoAmI, Preview…), so a procedure added later
// is recorded without anyone remembering to (with fallbackDescription until it has a describer; a
// test lists those). Why after the call and not in the change's transaction: the handlers commit
// through the catalog in transactions of their own, and one place that sees every call keeps every
// service covered. The cost: a gateway that dies between the commit and this insert loses that one
// event, and an insert that fails (the database gone right after the commit) is logged at error
// level with the whole event instead. The answer is the change's either way: it was made.

const READ_VERBS = /^(Get|List|Watch|WhoAmI|Preview)/;

/** Whether `procedure` (`tickwise.v1.JobService/CreateJob`) changes nothing, by its verb. Pure. */
export function isReadProcedure(procedure: string): boolean {
  return READ_VERBS.test(procedure.slice(procedure.lastIndexOf('/') + 1));
}

/** Names of the tenant's objects for targets; an id that cannot be read (an archive since?) stays an id. */
function namesFor(db: Queryable, tenantId: string): AuditNames {
  const job = async (jobId: string) => (jobId ? ((await getJob(db, tenantId, jobId))?.name ?? jobId) : '');
  return {
    job,
    async endpoint(endpointId) {
      const row = endpointId ? await getEndpoint(db, tenantId, endpointId) : null;
      return row ? `${await job(row.jobId)}/${row.name}` : endpointId;
    },
  };
}

/** Records each successful change with the caller's key (inside the auth interceptor, which sets the caller). */
export function auditInterceptor(db: Queryable, log: Logger): Interceptor {
  return (next) => async (request) => {
    const response = await next(request);
    const procedure = `${request.service.typeName}/${request.method.name}`;
    if (response.stream || request.stream || isReadProcedure(procedure)) return response;
    const caller = callerOf({ values: request.contextValues });
    let description: Description | null;
    try {
      const describe = AUDIT_DESCRIBERS.get(procedure);
      description = describe
        ? await describe(request.message, response.message, namesFor(db, caller.tenantId))
        : fallbackDescription(request.method.input, request.message as unknown as Record<string, unknown>);
    } catch (error) {
      // A describer's bug must not turn a change that was made into an error: record what is certain.
      log.error('audit: could not describe a change', { procedure, error: (error as Error).message });
      description = fallbackDescription(request.method.input, request.message as unknown as Record<string, unknown>);
    }
    if (description === null) return response;
    const event: NewAuditEvent = { id: newId(), tenantId: caller.tenantId, actorKeyId: caller.keyId, actor: caller.keyName, via: 'api', action: procedure, target: description.target, summary: description.summary };
    try {
      await withRetry(() => insertAuditEvent(db, event));
    } catch (error) {
      gatewayMetrics.auditFailures.inc();
      log.error('audit: a change was made but could not be recorded; the event follows', { procedure, error: (error as Error).message, event: JSON.stringify(event) });
    }
    return response;
  };
}
