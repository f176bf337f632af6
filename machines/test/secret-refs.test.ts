import { describe, expect, it } from 'vitest';
import {
  endpointInputSchema,
  inlineCredentialHeaders,
  isInlineCredential,
  maskInlineCredentials,
  maskUrlCredentials,
  mentionsSecrets,
  refFieldPath,
  replaceSecretRefs,
  secretRefsOf,
  toEndpointSpec,
} from '@tickwise/machines';

const base = { name: 'call', url: 'https://api.example.com/orders', schedule: { every: '30s' } };

function problems(input: unknown): string[] {
  const result = endpointInputSchema.safeParse(input);
  expect(result.success, 'expected the input to be rejected').toBe(false);
  return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

describe('{{secrets.NAME}} references in a spec', () => {
  it('are kept as written in the stored spec and found in the URL, header values and body strings', () => {
    const input = {
      ...base,
      method: 'POST',
      url: 'https://api.example.com/orders/{{secrets.ACCOUNT}}?key={{secrets.API_KEY}}',
      headers: { Authorization: 'Bearer {{secrets.TOKEN}}', 'X-Team': 'billing' },
      body: { auth: { token: '{{secrets.TOKEN}}' }, list: ['a', 'x-{{secrets.other-one}}'], n: 1 },
    };
    const spec = toEndpointSpec(endpointInputSchema.parse(input));
    expect(spec.headers.Authorization).toBe('Bearer {{secrets.TOKEN}}');
    expect(spec.url).toBe(input.url);
    expect(secretRefsOf(spec).map((ref) => `${refFieldPath(ref.path)}=${ref.name}`)).toEqual([
      'url=ACCOUNT',
      'url=API_KEY',
      'headers["Authorization"]=TOKEN',
      'body.auth.token=TOKEN',
      'body.list[1]=other-one',
    ]);
  });

  it('are looked for first by a scan that says whether a spec may have any, wherever one is', () => {
    const plain = { url: 'https://api.example.com/x?y={{other.Z}}', headers: { 'X-Team': 'billing' }, body: { a: ['b', { c: 'd' }], n: 1, z: null } };
    expect(mentionsSecrets(plain)).toBe(false);
    expect(mentionsSecrets({ url: plain.url })).toBe(false);
    expect(mentionsSecrets({ ...plain, url: 'https://api.example.com/{{secrets.A}}' })).toBe(true);
    expect(mentionsSecrets({ ...plain, headers: { ...plain.headers, Authorization: 'Bearer {{secrets.T}}' } })).toBe(true);
    expect(mentionsSecrets({ ...plain, body: { a: ['b', { c: 'x{{secrets.T}}' }] } })).toBe(true);
    expect(mentionsSecrets({ ...plain, body: '{{secrets.T}}' })).toBe(true);
  });

  it('refuses references written wrongly, and references in the URL origin', () => {
    expect(problems({ ...base, headers: { Authorization: 'Bearer {{ secrets.TOKEN }}' } })).toEqual([
      'headers.Authorization: {{ secrets.TOKEN }} is not a secret reference: write it {{secrets.TOKEN}}, without spaces',
    ]);
    expect(problems({ ...base, method: 'POST', body: { a: ['{{secrets.9lives}}'] } })).toEqual([
      'body.a.0: {{secrets.9lives}} is not a secret reference: the name must be 1-63 letters, digits, "_" or "-", starting with a letter',
    ]);
    expect(problems({ ...base, url: 'https://{{secrets.HOST}}/x' })).toEqual([
      'url: a {{secrets.…}} reference may stand only in the path, query or fragment of the URL, not in its scheme, host or port',
    ]);
  });

  it('refuses a URL with user:pass@, naming the fix', () => {
    for (const url of ['https://user:pass@api.example.com/x', 'https://user@api.example.com/', 'http://:pw@h/']) {
      expect(problems({ ...base, url })).toEqual([
        'url: must not hold a user name or password (user:pass@ is never sent, and anyone who reads the endpoint would see it): send the credentials in a header with a secret instead, e.g. Authorization: Basic {{secrets.NAME}} (tickwise secrets set NAME)',
      ]);
    }
  });

  it('puts values in, encoded as asked', () => {
    const values: Record<string, string> = { A: 'x y&z', B: 'plain' };
    expect(replaceSecretRefs('/p/{{secrets.A}}?b={{secrets.B}}&a={{secrets.A}}', (name) => values[name]!, encodeURIComponent)).toBe('/p/x%20y%26z?b=plain&a=x%20y%26z');
    expect(replaceSecretRefs('Bearer {{secrets.A}} {{ secrets.A }}', (name) => values[name]!)).toBe('Bearer x y&z {{ secrets.A }}');
  });
});

describe('credentials written inline', () => {
  it('are the credential headers whose value holds more than references and a scheme word', () => {
    expect(isInlineCredential('Authorization', 'Bearer abc123')).toBe(true);
    expect(isInlineCredential('authorization', 'Bearer {{secrets.TOKEN}}')).toBe(false);
    expect(isInlineCredential('Cookie', 'session=1')).toBe(true);
    expect(isInlineCredential('X-Api-Key', 'k')).toBe(true);
    expect(isInlineCredential('X-Auth-Token', '{{secrets.T}}')).toBe(false);
    expect(isInlineCredential('X-Client-Secret', 'shh')).toBe(true);
    expect(isInlineCredential('X-Team', 'billing')).toBe(false);
    expect(isInlineCredential('X-Keyboard', 'qwerty')).toBe(false);
    expect(inlineCredentialHeaders({ Authorization: 'Basic dTpw', 'X-Team': 'a', 'Api-Key': '{{secrets.K}}' })).toEqual(['Authorization']);
  });

  it('are masked for readers, the scheme word kept; references stay as written', () => {
    expect(maskInlineCredentials({ Authorization: 'Bearer abc123', Cookie: 'a=b', 'X-Token': 'Bearer {{secrets.T}}', 'X-Team': 'billing' })).toEqual({
      Authorization: 'Bearer ***',
      Cookie: '***',
      'X-Token': 'Bearer {{secrets.T}}',
      'X-Team': 'billing',
    });
    expect(maskUrlCredentials('https://user:pass@api.example.com/x?q=1')).toBe('https://***@api.example.com/x?q=1');
    expect(maskUrlCredentials('https://api.example.com/a@b')).toBe('https://api.example.com/a@b');
  });
});
