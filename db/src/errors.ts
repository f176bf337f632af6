import { TickwiseError, type ErrorCode } from '@tickwise/platform/errors';

/** Why the db layer refuses or gives up on purpose: a TickwiseError's `reason`, each with its code. */
const DB_ERROR_REASONS = {
  /** An applied migration step was edited afterwards: add a new migration instead. */
  migration_changed: 'failed_precondition',
  /** Another runner held the migration lock for too long. */
  migration_lock_timeout: 'unavailable',
  /** A migration file could not be parsed: a bug in what was shipped. */
  migration_invalid: 'internal',
  /** Serialization failures or deadlocks persisted after every retry. */
  retries_exhausted: 'unavailable',
  /** The database cannot be reached or is not what we need. */
  unavailable: 'unavailable',
} as const satisfies Record<string, ErrorCode>;
export type DbErrorReason = keyof typeof DB_ERROR_REASONS;

/** The TickwiseError for one of the db layer's reasons; driver errors pass through unchanged. */
export function dbError(reason: DbErrorReason, message: string, options: { cause?: unknown } = {}): TickwiseError {
  return new TickwiseError(DB_ERROR_REASONS[reason], message, { reason, cause: options.cause });
}

/** SQLSTATEs worth retrying as a whole transaction. */
export function isRetryable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '40001' || code === '40P01';
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN']);

/**
 * Errors that mean the connection or server went away (restart, network), not a bad statement.
 * A query that got no answer within the query timeout ("Query read timeout") is one too: behind a
 * silent partition that is the only error there is, and callers must wait and retry, not give up.
 * So is a connection that could not be set up in time, or no free client in time (every one hung).
 */
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  // 25P03 / 57P05: the server ended a session left idle (in a transaction / at all) too long.
  if (typeof code === 'string' && (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '25P03' || code === '57P05' || NETWORK_CODES.has(code))) {
    return true;
  }
  const message = (error as Error | null)?.message ?? '';
  return /Connection terminated|connection error|Client has encountered a connection error|not queryable|Query read timeout|timeout exceeded when trying to connect|timeout expired/i.test(message);
}
