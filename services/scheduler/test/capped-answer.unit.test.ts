/** CappedAnswer: the handler undici calls back for one call, driven here as undici drives it. */
import { describe, expect, it } from 'vitest';
import { CappedAnswer, MAX_CAPTURED_BYTES, type Answer } from '../src/capped-answer.ts';

const headers = (pairs: Record<string, string>) => Object.entries(pairs).flatMap(([name, value]) => [Buffer.from(name), Buffer.from(value)]);

function connected() {
  const answer = new CappedAnswer();
  const aborts: Error[] = [];
  answer.onConnect((reason) => aborts.push(reason ?? new Error('no reason')));
  return { answer, aborts };
}

describe('CappedAnswer', () => {
  it('settles with the final status, the body and Retry-After of a 429 or 503, skipping interim answers', async () => {
    const { answer } = connected();
    expect(answer.onHeaders(100, headers({}))).toBe(true);
    answer.onHeaders(429, headers({ 'Retry-After': '5', 'content-type': 'text/plain' }));
    answer.onData(Buffer.from('slow '));
    answer.onData(Buffer.from('down'));
    answer.onComplete();
    expect(await answer.settled).toEqual({ statusCode: 429, retryAfter: '5', text: 'slow down', truncated: false });
    const ok = connected().answer;
    ok.onHeaders(200, headers({ 'Retry-After': '5' }));
    ok.onComplete();
    expect(await ok.settled).toEqual({ statusCode: 200, retryAfter: undefined, text: '', truncated: false });
  });

  it('keeps 64 KiB of a longer body, says it was cut, and drops the connection once the parser has returned', async () => {
    const { answer, aborts } = connected();
    answer.onHeaders(200, headers({}));
    answer.onData(Buffer.alloc(MAX_CAPTURED_BYTES - 10, 'a'));
    expect(answer.onData(Buffer.alloc(20, 'b'))).toBe(false);
    expect(aborts).toEqual([]);
    const settled = (await answer.settled) as Answer;
    expect(settled.text.length).toBe(MAX_CAPTURED_BYTES);
    expect(settled.text.endsWith('a'.repeat(10) + 'b'.repeat(10))).toBe(true);
    expect(settled.truncated).toBe(true);
    expect(aborts.map((error) => error.message)).toEqual(['answer longer than the 64 KiB kept: connection dropped']);
    // What undici reports for that abort changes nothing: the call settled once.
    answer.onError(new Error('aborted'));
    expect(await answer.settled).toBe(settled);
  });

  it('does not call a body of exactly 64 KiB cut, though it stops reading there', async () => {
    const { answer, aborts } = connected();
    answer.onHeaders(200, headers({}));
    answer.onData(Buffer.alloc(MAX_CAPTURED_BYTES, 'a'));
    expect(await answer.settled).toMatchObject({ truncated: false });
    expect(aborts.length).toBe(1);
  });

  it('ends a call aborted before it reached a connection at once, and aborts the request when it does', async () => {
    const answer = new CappedAnswer();
    const deadline = new Error('no complete response within 10ms');
    answer.abort(deadline);
    expect(await answer.settled).toBe(deadline);
    const aborts: (Error | undefined)[] = [];
    answer.onConnect((reason) => aborts.push(reason));
    expect(aborts).toEqual([deadline]);
  });

  it('reports the abort, not the error undici raises for it, for a call aborted while connected', async () => {
    const { answer, aborts } = connected();
    const shutdown = new Error('aborted: the scheduler node is shutting down');
    answer.abort(shutdown);
    expect(aborts).toEqual([shutdown]);
    answer.onError(new Error('Request aborted'));
    expect(await answer.settled).toBe(shutdown);
    // A connection error of its own is reported as it is.
    const failed = connected().answer;
    const reset = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
    failed.onError(reset);
    expect(await failed.settled).toBe(reset);
  });
});
