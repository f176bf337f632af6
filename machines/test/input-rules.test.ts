import { describe, expect, it } from 'vitest';
import { endpointInputSchema, forbiddenHeaderReason, headerValueProblem, INPUT_LIMITS, jsonValueProblems, notifyListSchema, numberProblem, textProblem, urlTextProblem } from '@tickwise/machines';

const base = { name: 'poll', url: 'http://localhost:9999/orders', schedule: { every: '30s' } };

/** The problems of an endpoint as `path: message` lines; [] when it is valid. */
function problemsOf(extra: Record<string, unknown>): string[] {
  const result = endpointInputSchema.safeParse({ ...base, ...extra });
  return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

describe('text', () => {
  it('refuses NUL and lone surrogates, saying where', () => {
    expect(textProblem('ok é 😀')).toBeUndefined();
    expect(textProblem('ab\u0000')).toBe('must not contain the NUL character (U+0000, at character 3)');
    expect(textProblem('a\ud800b')).toBe('must be valid Unicode: it holds a lone surrogate (U+D800, at character 2)');
    expect(textProblem('\udc00')).toContain('lone surrogate (U+DC00, at character 1)');
    expect(textProblem('\ud83d\ude00')).toBeUndefined();
  });
});

describe('numbers', () => {
  it('refuses non-finite numbers and numbers past ±(2^53 − 1)', () => {
    for (const fine of [0, -1.5, 1e-300, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER]) expect(numberProblem(fine)).toBeUndefined();
    expect(numberProblem(JSON.parse('1e400') as number)).toContain('must be a finite number, not Infinity');
    expect(numberProblem(NaN)).toContain('not NaN');
    expect(numberProblem(2 ** 53)).toContain('write it as a string');
  });
});

describe('JSON bodies', () => {
  it('names every bad string, key and number at its path, and refuses deep nesting', () => {
    expect(jsonValueProblems({ a: [1, 'x', { b: null }], c: true })).toEqual([]);
    expect(jsonValueProblems({ a: ['\u0000'], 'k\u0000': 1, n: { m: -Infinity } })).toEqual([
      { path: ['a', 0], message: expect.stringContaining('NUL') },
      { path: [], message: expect.stringMatching(/^the key "k\\u0000" must not contain the NUL/) },
      { path: ['n', 'm'], message: expect.stringContaining('not -Infinity') },
    ]);
    const deep = JSON.parse('['.repeat(INPUT_LIMITS.bodyDepthMax + 1) + ']'.repeat(INPUT_LIMITS.bodyDepthMax + 1)) as unknown;
    expect(jsonValueProblems(deep)).toEqual([{ path: Array(INPUT_LIMITS.bodyDepthMax).fill(0), message: `nests deeper than ${INPUT_LIMITS.bodyDepthMax} levels of arrays and objects` }]);
    expect(jsonValueProblems(Array(1_000).fill('\u0000'))).toHaveLength(10);
  });
});

describe('headers (RFC 9110)', () => {
  it('refuses values with CR, LF, NUL, controls or characters past Latin-1, and padded values', () => {
    for (const fine of ['', 'Bearer abc', 'a\tb', 'caf\u00e9', '\u00ff']) expect(headerValueProblem(fine)).toBeUndefined();
    expect(headerValueProblem('a\r\nX-Injected: 1')).toContain('line break (CR at character 2)');
    expect(headerValueProblem('a\nb')).toContain('line break (LF');
    expect(headerValueProblem('a\u0000')).toContain('NUL');
    expect(headerValueProblem('a\u0007')).toContain('control character U+0007');
    expect(headerValueProblem('a\u007f')).toContain('control character U+007F');
    expect(headerValueProblem('5 \u20ac')).toContain('cannot hold "\u20ac" (U+20AC, at character 3)');
    expect(headerValueProblem(' a')).toContain('must not start or end with a space or tab');
    expect(headerValueProblem('x'.repeat(INPUT_LIMITS.headerValueMax + 1))).toContain(`at most ${INPUT_LIMITS.headerValueMax} characters`);
  });

  it('refuses the headers the HTTP client owns, whatever their case', () => {
    for (const name of ['Host', 'content-length', 'Transfer-Encoding', 'Connection', 'Keep-Alive', 'Upgrade', 'TE', 'Trailer', 'Expect', 'Proxy-Authorization', 'proxy-connection']) {
      expect(forbiddenHeaderReason(name), name).toMatch(new RegExp(`^header "${name}" cannot be set: it `));
    }
    for (const name of ['Content-Type', 'Authorization', 'Accept', 'X-Host', 'Cookie']) expect(forbiddenHeaderReason(name), name).toBeUndefined();
  });
});

describe('URLs', () => {
  it('refuses NUL, spaces and control characters that the URL parser would drop or encode', () => {
    expect(urlTextProblem('https://example.com/a%20b?q=\u00e9')).toBeUndefined();
    expect(urlTextProblem('https://example.com/a b')).toBe('must not contain a space (at character 22): percent-encode it');
    expect(urlTextProblem('https://example.com/\ta')).toContain('control character U+0009');
    expect(urlTextProblem('https://example.com/\u0000')).toContain('NUL');
    expect(urlTextProblem(`https://example.com/${'x'.repeat(INPUT_LIMITS.urlMax)}`)).toBe(`must be at most ${INPUT_LIMITS.urlMax} characters`);
  });
});

describe('endpointInputSchema applies the rules to every field', () => {
  it('names the field of each bad value', () => {
    expect(problemsOf({ url: 'http://x/\u0000' })).toEqual([expect.stringMatching(/^url: must not contain the NUL character/)]);
    expect(problemsOf({ headers: { 'X-A': 'a\r\nb' } })).toEqual([expect.stringMatching(/^headers\.X-A: must not contain a line break/)]);
    expect(problemsOf({ headers: { 'Content-Length': '3' } })).toEqual([expect.stringMatching(/^headers\.Content-Length: header "Content-Length" cannot be set/)]);
    expect(problemsOf({ headers: Object.fromEntries(Array.from({ length: INPUT_LIMITS.headersMax + 1 }, (_, i) => [`x-${i}`, 'v'])) })).toEqual([`headers: must have at most ${INPUT_LIMITS.headersMax} entries`]);
    expect(problemsOf({ method: 'POST', body: { items: [{ n: JSON.parse('1e400') as number }] } })).toEqual([expect.stringMatching(/^body\.items\.0\.n: must be a finite number/)]);
    expect(problemsOf({ method: 'POST', body: { s: '\ud800' } })).toEqual([expect.stringMatching(/^body\.s: must be valid Unicode/)]);
    expect(problemsOf({ method: 'POST', body: { s: 'x'.repeat(INPUT_LIMITS.bodyMaxBytes) } })).toEqual([`body: must be at most ${INPUT_LIMITS.bodyMaxBytes} bytes as JSON`]);
    expect(problemsOf({ success: { bodyContains: '\u0000' } })).toEqual([expect.stringMatching(/^success\.bodyContains: must not contain the NUL/)]);
  });

  it('checks notify URLs the same way', () => {
    const result = notifyListSchema.safeParse([{ webhook: 'https://hooks.example.com/\u0000' }]);
    expect(result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`)).toEqual([expect.stringMatching(/^0\.webhook: must not contain the NUL/)]);
  });
});
