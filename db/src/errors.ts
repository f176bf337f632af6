export const DB_ERROR_CODES = [
  /** An applied migration step was edited afterwards. */
  'migration_changed',
  /** Another runner held the migration lock for too long. */
  'migration_lock_timeout',
  /** A migration file could not be parsed. */
  'migration_invalid',
  /** Serialization failures or deadlocks persisted after every retry. */
  'retries_exhausted',
  /** The database cannot be reached or is not what we need. */
  'unavailable',
] as const;
export type DbErrorCode = (typeof DB_ERROR_CODES)[number];

/** The one error the db layer throws on purpose; driver errors pass through unchanged. */
export class DbError extends Error {
  constructor(readonly code: DbErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DbError';
  }
}

/** SQLSTATEs worth retrying as a whole transaction. */
export function isRetryable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '40001' || code === '40P01';
}

/** Errors that mean the connection or server went away (restart, network), not a bad statement. */
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'EPIPE' || code === 'ETIMEDOUT')) {
    return true;
  }
  const message = (error as Error | null)?.message ?? '';
  return /Connection terminated|connection error|Client has encountered a connection error|not queryable/i.test(message);
}
