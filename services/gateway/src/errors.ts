import { Code, ConnectError } from '@connectrpc/connect';
import { create } from '@bufbuild/protobuf';
import { isConnectionError } from '@tickwise/db';
import { isTickwiseError, TickwiseError, type ErrorCode, type Logger } from '@tickwise/platform';
import { BadRequestSchema } from '@tickwise/api';

/** The status a client gets for each code; typed by the code set, so a new code does not compile until it has one. */
const CONNECT_CODE: Record<ErrorCode, Code> = {
  invalid_argument: Code.InvalidArgument,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  failed_precondition: Code.FailedPrecondition,
  resource_exhausted: Code.ResourceExhausted,
  unauthenticated: Code.Unauthenticated,
  permission_denied: Code.PermissionDenied,
  deadline_exceeded: Code.DeadlineExceeded,
  unavailable: Code.Unavailable,
  // A setting of this server that cannot be used is the operator's to fix, not the caller's: like a bug, it is logged and not shown.
  invalid_config: Code.Internal,
  internal: Code.Internal,
};

/** RESOURCE_EXHAUSTED that says when to try again: the answer carries `retry-after` (seconds), as HTTP 429 does. */
export class RetryLater extends TickwiseError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
    reason: string,
  ) {
    super('resource_exhausted', message, { reason });
  }
}

/**
 * Runs a catalog write whose field violations name its own input (`url`) and names them as the
 * request does (`endpoint.url`).
 */
export async function underField<T>(field: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (!isTickwiseError(error, 'invalid_argument') || error.violations.length === 0) throw error;
    throw TickwiseError.invalid(error.violations.map((violation) => ({ field: `${field}.${violation.field}`, reason: violation.reason })), error.reason);
  }
}

/**
 * Maps anything a handler threw to what the client gets. A TickwiseError (the gateway's, the
 * catalog's, the db layer's) keeps its code, its message and its field violations (as BadRequest
 * details); a database that cannot be reached is UNAVAILABLE; anything else, and an error of this
 * server's own (internal, invalid_config), is logged with its stack and answered INTERNAL without details.
 */
export function toConnectError(error: unknown, log: Logger, procedure: string): ConnectError {
  if (error instanceof ConnectError) return error;
  if (isConnectionError(error)) {
    log.warn('database unavailable', { procedure, error: (error as Error).message });
    return new ConnectError('the database is unavailable; try again', Code.Unavailable);
  }
  if (isTickwiseError(error) && CONNECT_CODE[error.code] !== Code.Internal) {
    if (error.code === 'unavailable') log.warn('unavailable', { procedure, reason: error.reason, error: error.message });
    const details = error.violations.length > 0 ? [{ desc: BadRequestSchema, value: create(BadRequestSchema, { fieldViolations: [...error.violations] }) }] : [];
    const metadata = error instanceof RetryLater ? { 'retry-after': String(error.retryAfterSeconds) } : undefined;
    return new ConnectError(error.message, CONNECT_CODE[error.code], metadata, details);
  }
  log.error('internal error', { procedure, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  return new ConnectError('internal error', Code.Internal);
}
