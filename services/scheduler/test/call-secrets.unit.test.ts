import { describe, expect, it } from 'vitest';
import { maskSecretValues, secretNamesOf, withSecretValues, type DispatchRequest } from '@tickwise/scheduler';

const request: DispatchRequest = {
  url: 'https://api.example.com/a/{{secrets.A}}?b={{secrets.B}}',
  method: 'POST',
  headers: { authorization: 'Bearer {{secrets.B}}', 'x-plain': 'p' },
  body: { nested: [{ v: '{{secrets.A}}-{{secrets.B}}' }], n: 1, t: true, z: null },
  timeoutMs: 1_000,
  tenantId: 't',
};

describe('secrets in a call', () => {
  it('names each secret once and puts the values in: percent-encoded in the URL, as is in headers, JSON-escaped in the body', () => {
    expect(secretNamesOf(request)).toEqual(['A', 'B']);
    expect(secretNamesOf({ url: 'https://x/', headers: {}, body: undefined })).toEqual([]);
    const values = new Map([
      ['A', 'a/b c'],
      ['B', 'q"uote'],
    ]);
    const sent = withSecretValues(request, values);
    expect(sent.url).toBe('https://api.example.com/a/a%2Fb%20c?b=q%22uote');
    expect(sent.headers).toEqual({ authorization: 'Bearer q"uote', 'x-plain': 'p' });
    expect(JSON.stringify(sent.body)).toBe('{"nested":[{"v":"a/b c-q\\"uote"}],"n":1,"t":true,"z":null}');
    expect(request.headers.authorization).toBe('Bearer {{secrets.B}}');
  });

  it('masks every spelling of a value, nested encodings included, and a value cut off at the end of a truncated body', () => {
    const value = 'p"w/1 2';
    const echoed = JSON.stringify({ raw: value, json: JSON.stringify({ v: value }), url: `/x?k=${encodeURIComponent(value)}`, twice: JSON.stringify(JSON.stringify(value)) });
    const masked = maskSecretValues(echoed, [value]);
    expect(masked).not.toContain('w/1');
    expect(masked).not.toContain('w%2F1');
    expect(masked.match(/\*\*\*/g)).toHaveLength(4);
    expect(maskSecretValues(`start ${'s3cr3t-value'.slice(0, 6)}`, ['s3cr3t-value'], true)).toBe('start ***');
    expect(maskSecretValues('ends with s3', ['s3cr3t-value'], true)).toBe('ends with s3');
    expect(maskSecretValues('abcabc', ['abc', 'abcabc'])).toBe('***');
    expect(maskSecretValues('nothing here', [''])).toBe('nothing here');
  });
});
