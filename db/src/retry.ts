import { dbError, isRetryable } from './errors.ts';

export interface RetryOptions {
  attempts?: number;
  baseMs?: number;
  capMs?: number;
}

/**
 * Runs `work` and runs it again when it fails with a serialization failure (40001) or a deadlock
 * (40P01), with jittered exponential backoff. `work` must be a whole transaction that rolled back;
 * never wrap a COMMIT whose outcome is unknown: make the operation idempotent instead.
 */
export async function withRetry<T>(work: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 8;
  const baseMs = options.baseMs ?? 5;
  const capMs = options.capMs ?? 500;
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (!isRetryable(error)) throw error;
      if (attempt >= attempts) {
        throw dbError('retries_exhausted', `gave up after ${attempts} attempts: ${(error as Error).message}`, { cause: error });
      }
      const ceiling = Math.min(capMs, baseMs * 2 ** attempt);
      await new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
    }
  }
}
