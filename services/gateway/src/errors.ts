import { Code, ConnectError } from '@connectrpc/connect';
import { create } from '@bufbuild/protobuf';
import { CatalogError, EndpointNotFoundError } from '@tickwise/catalog';
import { DbError, isConnectionError } from '@tickwise/db';
import { BadRequestSchema } from './gen/tickwise/v1/resources_pb.ts';
import type { Logger } from './logger.ts';

export const GATEWAY_ERROR_CODES = [
  'invalid_argument',
  'not_found',
  'unauthenticated',
  'permission_denied',
  'already_exists',
  'failed_precondition',
  'resource_exhausted',
  'unavailable',
] as const;
export type GatewayErrorCode = (typeof GATEWAY_ERROR_CODES)[number];

const CONNECT_CODE: Record<GatewayErrorCode, Code> = {
  invalid_argument: Code.InvalidArgument,
  not_found: Code.NotFound,
  unauthenticated: Code.Unauthenticated,
  permission_denied: Code.PermissionDenied,
  already_exists: Code.AlreadyExists,
  failed_precondition: Code.FailedPrecondition,
  resource_exhausted: Code.ResourceExhausted,
  unavailable: Code.Unavailable,
};

export interface FieldViolation {
  /** The request field's path in proto names, e.g. `endpoint.schedule.every`. */
  field: string;
  reason: string;
}

/** The one error the gateway throws on purpose; the boundary turns it into a ConnectError. */
export class GatewayError extends Error {
  constructor(
    readonly code: GatewayErrorCode,
    message: string,
    readonly violations: readonly FieldViolation[] = [],
  ) {
    super(message);
    this.name = 'GatewayError';
  }

  /** INVALID_ARGUMENT naming every wrong field; the message is "field: reason; field: reason". */
  static invalid(violations: readonly FieldViolation[]): GatewayError {
    return new GatewayError('invalid_argument', violations.map((v) => (v.field ? `${v.field}: ${v.reason}` : v.reason)).join('; '), violations);
  }
}

const CATALOG_CODE = { not_found: 'not_found', already_exists: 'already_exists', failed_precondition: 'failed_precondition', resource_exhausted: 'resource_exhausted' } as const;

/**
 * Maps anything a handler threw to what the client gets. Errors the gateway or the catalog raise on
 * purpose keep their code and message; a database that cannot be reached is UNAVAILABLE; anything
 * else is a bug: logged with its stack, answered INTERNAL without details.
 */
export function toConnectError(error: unknown, log: Logger, procedure: string): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof GatewayError) {
    const details = error.violations.length > 0 ? [{ desc: BadRequestSchema, value: create(BadRequestSchema, { fieldViolations: [...error.violations] }) }] : [];
    return new ConnectError(error.message, CONNECT_CODE[error.code], undefined, details);
  }
  if (error instanceof CatalogError) return new ConnectError(error.message, CONNECT_CODE[CATALOG_CODE[error.code]]);
  if (error instanceof EndpointNotFoundError) return new ConnectError(error.message, Code.NotFound);
  if (isConnectionError(error) || (error instanceof DbError && (error.code === 'unavailable' || error.code === 'retries_exhausted'))) {
    log.warn('database unavailable', { procedure, error: (error as Error).message });
    return new ConnectError('the database is unavailable; try again', Code.Unavailable);
  }
  log.error('internal error', { procedure, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  return new ConnectError('internal error', Code.Internal);
}
