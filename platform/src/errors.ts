/**
 * What went wrong, in a closed set every process shares. The gateway answers each with its gRPC
 * code, the CLI exits by it (0 / 1 / 2), and logs carry it. Names follow the gRPC status table where
 * one fits, so the API and the CLI say the same word for the same thing.
 */
export const ERROR_CODES = [
  /** A setting (environment variable, option) cannot be used as given. CLI exit 2. */
  'invalid_config',
  /** The input (a request, a jobs file, a command line) is wrong; the message names where. CLI exit 2. */
  'invalid_argument',
  'not_found',
  'already_exists',
  /** The thing exists but is not in a state that allows this (archived, already started, changed since). */
  'failed_precondition',
  /** A quota or a limit. */
  'resource_exhausted',
  'unauthenticated',
  'permission_denied',
  'deadline_exceeded',
  /** Something this depends on (the database, a broker, the API) cannot be reached now; trying again may work. */
  'unavailable',
  /** A bug, or a state that should not exist. */
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface FieldViolation {
  /** Where in the input: a request field's path (`endpoint.schedule.every`) or a file's place. */
  field: string;
  reason: string;
}

export interface TickwiseErrorOptions {
  /**
   * A finer, stable name for the cause within the code (`migration_changed`, `illegal_transition`,
   * `not_json`): what a test or a caller may branch on without parsing the message.
   */
  reason?: string;
  violations?: readonly FieldViolation[];
  /** The API answered with this error: the code is the API's, not a judgement of local input. */
  fromApi?: boolean;
  cause?: unknown;
}

/** The one error Tickwise throws on purpose. Anything else that escapes is a bug (`internal`). */
export class TickwiseError extends Error {
  readonly reason: string | undefined;
  readonly violations: readonly FieldViolation[];
  readonly fromApi: boolean;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: TickwiseErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TickwiseError';
    this.reason = options.reason;
    this.violations = options.violations ?? [];
    this.fromApi = options.fromApi ?? false;
  }

  /** `invalid_argument` naming every wrong field; the message is "field: reason; field: reason". */
  static invalid(violations: readonly FieldViolation[], reason?: string): TickwiseError {
    const message = violations.map((v) => (v.field ? `${v.field}: ${v.reason}` : v.reason)).join('; ');
    return new TickwiseError('invalid_argument', message, { violations, ...(reason ? { reason } : {}) });
  }
}

/** Whether `error` is a TickwiseError, of `code` when given. Pure. */
export function isTickwiseError(error: unknown, code?: ErrorCode): error is TickwiseError {
  return error instanceof TickwiseError && (code === undefined || error.code === code);
}

/** A setting that cannot be used, named in the message. */
export function invalidConfig(message: string, reason?: string): TickwiseError {
  return new TickwiseError('invalid_config', message, reason ? { reason } : {});
}
