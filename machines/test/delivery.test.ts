import { describe, expect, it } from 'vitest';
import { isRetried, judgeAnswer, retryDelay, retryInputSchema, successInputSchema, type RetryPolicy } from '@tickwise/machines';

const policy = (overrides: Partial<RetryPolicy> = {}): RetryPolicy => ({ attempts: 3, backoffMs: 1_000, maxBackoffMs: 30_000, on: ['5xx', '429', 'timeout', 'network'], ...overrides });

describe('judgeAnswer: what counts as success', () => {
  it('takes any 2xx without a rule, and an error status as an HTTP failure', () => {
    expect(judgeAnswer(undefined, 204, null)).toEqual({ ok: true });
    expect(judgeAnswer(undefined, 503, 'busy')).toEqual({ ok: false, kind: 'http_status', message: 'HTTP 503' });
    expect(judgeAnswer(undefined, 302, null)).toEqual({ ok: false, kind: 'assertion', message: 'HTTP 302' });
  });

  it('takes the statuses and classes a rule lists, and names the rule a status breaks', () => {
    const rule = successInputSchema.parse({ status: ['2xx', 304] });
    expect(judgeAnswer(rule, 304, null)).toEqual({ ok: true });
    expect(judgeAnswer(rule, 302, null)).toEqual({ ok: false, kind: 'assertion', message: 'HTTP 302: not a success status (2xx, 304)' });
    expect(judgeAnswer(rule, 500, null)).toEqual({ ok: false, kind: 'http_status', message: 'HTTP 500: not a success status (2xx, 304)' });
  });

  it('fails an answer whose captured body lacks the text, as an assertion naming it', () => {
    const rule = successInputSchema.parse({ bodyContains: '"ok":true' });
    expect(judgeAnswer(rule, 200, '{"ok":true,"n":1}')).toEqual({ ok: true });
    expect(judgeAnswer(rule, 200, '{"ok":false}')).toEqual({ ok: false, kind: 'assertion', message: 'HTTP 200: the body does not contain "\\"ok\\":true"' });
    expect(judgeAnswer(rule, 200, null)).toMatchObject({ ok: false, kind: 'assertion' });
  });
});

describe('isRetried: which failures get another attempt', () => {
  it.each([
    [{ errorKind: 'http_status', httpStatus: 503 }, true],
    [{ errorKind: 'http_status', httpStatus: 429 }, true],
    [{ errorKind: 'http_status', httpStatus: 404 }, false],
    [{ errorKind: 'timeout', httpStatus: null }, true],
    [{ errorKind: 'connection_refused', httpStatus: null }, true],
    [{ errorKind: 'dns', httpStatus: null }, true],
    [{ errorKind: 'assertion', httpStatus: 200 }, false],
    [{ errorKind: 'target_denied', httpStatus: null }, false],
    [{ errorKind: 'signing', httpStatus: null }, false],
  ])('by the default list: %o → %s', (failure, retried) => {
    expect(isRetried(policy(), failure)).toBe(retried);
  });

  it('follows the list it is given, and never retries with one attempt or none', () => {
    expect(isRetried(policy({ on: ['4xx', 'assertion'] }), { errorKind: 'http_status', httpStatus: 404 })).toBe(true);
    expect(isRetried(policy({ on: ['4xx', 'assertion'] }), { errorKind: 'assertion', httpStatus: 200 })).toBe(true);
    expect(isRetried(policy({ on: ['4xx', 'assertion'] }), { errorKind: 'timeout', httpStatus: null })).toBe(false);
    expect(isRetried(policy({ attempts: 1 }), { errorKind: 'timeout', httpStatus: null })).toBe(false);
    expect(isRetried(undefined, { errorKind: 'timeout', httpStatus: null })).toBe(false);
  });
});

describe('retryDelay: the wait before the next attempt', () => {
  it('doubles per attempt from the backoff, half fixed and half random, up to the cap', () => {
    const retry = policy({ backoffMs: 1_000, maxBackoffMs: 3_000 });
    expect(retryDelay(retry, 2, () => 0)).toBe(500);
    expect(retryDelay(retry, 2, () => 0.999)).toBe(1_000);
    expect(retryDelay(retry, 3, () => 0)).toBe(1_000);
    expect(retryDelay(retry, 4, () => 0.999)).toBe(2_999);
    expect(retryDelay(retry, 9, () => 0)).toBe(1_500);
  });

  it('waits as long as a Retry-After asked when that is longer', () => {
    expect(retryDelay(policy(), 2, () => 0, 5_000)).toBe(5_000);
    expect(retryDelay(policy(), 2, () => 0.999, 200)).toBe(1_000);
  });
});

describe('the retry key as written', () => {
  it('fills in the defaults and keeps each listed failure once', () => {
    expect(retryInputSchema.parse({ attempts: 3 })).toEqual({ attempts: 3, backoffMs: 1_000, maxBackoffMs: 30_000, on: ['5xx', '429', 'timeout', 'network'] });
    expect(retryInputSchema.parse({ attempts: 2, on: [503, '503', '5XX'] }).on).toEqual(['503', '5xx']);
  });
});
