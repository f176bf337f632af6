import { afterEach, describe, expect, it, vi } from 'vitest';
import { withRetry } from '@tickwise/db';
import { TickwiseError } from '@tickwise/platform';

function sqlError(code: string, message = `sqlstate ${code}`): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

/** A unit of work that fails with the given errors, one per call, then returns `value`. */
function failingThen<T>(errors: unknown[], value: T) {
  const work = vi.fn(async () => {
    const next = errors[work.mock.calls.length - 1];
    if (next !== undefined) throw next;
    return value;
  });
  return work;
}

const fast = { baseMs: 1, capMs: 1 };

describe('withRetry', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('returns the result of work that succeeds at once, calling it once', async () => {
    const work = failingThen([], 42);
    await expect(withRetry(work, fast)).resolves.toBe(42);
    expect(work).toHaveBeenCalledTimes(1);
  });

  it('retries serialization failures (40001) and deadlocks (40P01), then returns the result', async () => {
    const work = failingThen([sqlError('40001'), sqlError('40P01'), sqlError('40001')], 'done');
    await expect(withRetry(work, { ...fast, attempts: 4 })).resolves.toBe('done');
    expect(work).toHaveBeenCalledTimes(4);
  });

  it.each([
    ['a unique violation', sqlError('23505')],
    ['a syntax error', sqlError('42601')],
    ['a connection error', sqlError('ECONNRESET')],
    ['an error without a code', new Error('boom')],
  ])('throws %s at once, unchanged, without retrying', async (_what, error) => {
    const work = failingThen([error], 'never');
    await expect(withRetry(work, fast)).rejects.toBe(error);
    expect(work).toHaveBeenCalledTimes(1);
  });

  it('stops retrying as soon as a non-retryable error follows a retryable one', async () => {
    const fatal = sqlError('23503');
    const work = failingThen([sqlError('40001'), fatal], 'never');
    await expect(withRetry(work, fast)).rejects.toBe(fatal);
    expect(work).toHaveBeenCalledTimes(2);
  });

  it('gives up after the given number of attempts with TickwiseError retries_exhausted carrying the last error', async () => {
    const errors = [sqlError('40001', 'first'), sqlError('40P01', 'second'), sqlError('40001', 'third'), sqlError('40001', 'fourth')];
    const work = failingThen(errors, 'never');
    const failure = await withRetry(work, { ...fast, attempts: 3 }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(TickwiseError);
    expect((failure as TickwiseError).reason).toBe('retries_exhausted');
    expect((failure as TickwiseError).cause).toBe(errors[2]);
    expect((failure as TickwiseError).message).toContain('3 attempts');
    expect((failure as TickwiseError).message).toContain('third');
    expect(work).toHaveBeenCalledTimes(3);
  });

  it('makes 8 attempts by default', async () => {
    // No waiting between attempts: the jittered backoff is random() × ceiling.
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const work = vi.fn(async () => {
      throw sqlError('40001');
    });
    const failure = await withRetry(work).catch((error: unknown) => error);
    expect((failure as TickwiseError).reason).toBe('retries_exhausted');
    expect(work).toHaveBeenCalledTimes(8);
  });

  it('waits between attempts, never longer than the cap', async () => {
    vi.useFakeTimers();
    try {
      vi.spyOn(Math, 'random').mockReturnValue(0.999);
      const work = failingThen([sqlError('40001'), sqlError('40001')], 'ok');
      const result = withRetry(work, { attempts: 3, baseMs: 1_000, capMs: 50 });
      await vi.advanceTimersByTimeAsync(0);
      expect(work).toHaveBeenCalledTimes(1);
      await vi.advanceTimersByTimeAsync(50);
      expect(work).toHaveBeenCalledTimes(2);
      await vi.advanceTimersByTimeAsync(50);
      await expect(result).resolves.toBe('ok');
      expect(work).toHaveBeenCalledTimes(3);
    } finally {
      vi.useRealTimers();
    }
  });
});
