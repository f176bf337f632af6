import { z } from 'zod';

/**
 * `{{secrets.NAME}}`: how an endpoint spec names a secret of its tenant, in a header value, the URL
 * (its path, query or fragment) or a string of the body. The spec keeps the reference as written;
 * the scheduler node puts the value in when it builds the call. Everything here is pure.
 */

/** 1-63 letters, digits, "_" or "-", starting with a letter: what may follow `secrets.`. */
export const SECRET_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,62}$/;
export const SECRET_NAME_RULE = '1-63 letters, digits, "_" or "-", starting with a letter';
export const secretNameSchema = z.string().regex(SECRET_NAME, `must be ${SECRET_NAME_RULE}`);

/** A reference as written: exactly `{{secrets.` + name + `}}`. */
const REFERENCE = /\{\{secrets\.([A-Za-z][A-Za-z0-9_-]{0,62})\}\}/g;
/** Anything that looks meant as a reference, to report the ones not written exactly. */
const LOOKS_LIKE_REFERENCE = /\{\{\s*secrets?\s*\.[^{}]*\}\}/gi;

export interface SecretRef {
  /** Where in the spec: `['url']`, `['headers', 'Authorization']`, `['body', 'auth', 'token']`. */
  path: PropertyKey[];
  name: string;
}

/** What every reference begins with. */
const MARK = '{{secrets.';

/** The secret names referenced in one string, in order of appearance (repeats kept). */
export function secretNamesIn(text: string): string[] {
  return [...text.matchAll(REFERENCE)].map((match) => match[1]!);
}

/**
 * Whether a spec or request may reference a secret at all: a scan that allocates nothing, made for
 * every call before the full look (most calls reference none).
 */
export function mentionsSecrets(spec: { url: string; headers?: Record<string, string>; body?: unknown }): boolean {
  if (spec.url.includes(MARK)) return true;
  for (const name in spec.headers) if (spec.headers[name]!.includes(MARK)) return true;
  return spec.body !== undefined && anyString(spec.body);
}

function anyString(value: unknown): boolean {
  if (typeof value === 'string') return value.includes(MARK);
  if (Array.isArray(value)) return value.some(anyString);
  if (value !== null && typeof value === 'object') {
    for (const key in value) if (anyString((value as Record<string, unknown>)[key])) return true;
  }
  return false;
}

/** The references of a spec's URL, header values and body strings (the places a value is put in). */
export function secretRefsOf(spec: { url: string; headers?: Record<string, string>; body?: unknown }): SecretRef[] {
  const refs: SecretRef[] = secretNamesIn(spec.url).map((name) => ({ path: ['url'], name }));
  for (const [header, value] of Object.entries(spec.headers ?? {})) refs.push(...secretNamesIn(value).map((name) => ({ path: ['headers', header], name })));
  eachString(spec.body, ['body'], (text, path) => refs.push(...secretNamesIn(text).map((name) => ({ path, name }))));
  return refs;
}

/** A spec path as request fields read: `url`, `headers["Authorization"]`, `body.items[0]`. */
export function refFieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  path.forEach((segment, index) => {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (index > 0 && path[index - 1] === 'headers' && index === 1) out += `[${JSON.stringify(String(segment))}]`;
    else out += `${out ? '.' : ''}${String(segment)}`;
  });
  return out;
}

function eachString(value: unknown, path: PropertyKey[], visit: (text: string, path: PropertyKey[]) => void): void {
  if (typeof value === 'string') visit(value, path);
  else if (Array.isArray(value)) value.forEach((item, index) => eachString(item, [...path, index], visit));
  else if (value !== null && typeof value === 'object') for (const [key, item] of Object.entries(value)) eachString(item, [...path, key], visit);
}

/** What is wrong with the references in `text`, if anything (`{{ secrets.X }}`, a bad name). */
export function referenceProblem(text: string): string | undefined {
  for (const [written] of text.matchAll(LOOKS_LIKE_REFERENCE)) {
    if (new RegExp(`^${REFERENCE.source}$`).test(written)) continue;
    const name = /\.\s*([^{}]*?)\s*\}\}$/.exec(written)?.[1] ?? '';
    return SECRET_NAME.test(name)
      ? `${written} is not a secret reference: write it {{secrets.${name}}}, without spaces`
      : `${written} is not a secret reference: the name must be ${SECRET_NAME_RULE}`;
  }
  return undefined;
}

/**
 * Whether a URL states credentials (`https://user:pass@host/`): they are never sent, and would be
 * shown to anyone who reads the endpoint.
 */
export function urlHasCredentials(text: string): boolean {
  try {
    const url = new URL(text);
    return url.username !== '' || url.password !== '';
  } catch {
    return false;
  }
}

/** Where a URL's scheme, credentials, host and port end: a reference must come after. */
export function authorityEnd(text: string): number {
  return /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/.exec(text)?.[0].length ?? 0;
}

/** Replaces every reference of `text` with `valueOf(name)` (encoded by `encode`). Pure. */
export function replaceSecretRefs(text: string, valueOf: (name: string) => string, encode: (value: string) => string = (value) => value): string {
  return text.replace(REFERENCE, (_written, name: string) => encode(valueOf(name)));
}

/** Header names whose values are credentials: Authorization, Cookie, and names ending in -Key, -Token or -Secret. */
const CREDENTIAL_HEADER = /^(?:(?:proxy-)?authorization|cookie|api[-_]?key|token|secret|.+[-_](?:key|token|secret))$/i;
/** An authentication scheme word in front of the credential (kept when the rest is masked). */
const SCHEME = /^(Bearer|Basic|Token|Digest|ApiKey|Key)\s+/i;

export const MASK = '***';

/**
 * Whether a header carries a credential written inline: its name is a credential's and its value
 * holds more than references and a scheme word (`Bearer {{secrets.TOKEN}}` is not inline).
 */
export function isInlineCredential(name: string, value: string): boolean {
  if (!CREDENTIAL_HEADER.test(name)) return false;
  return value.replace(REFERENCE, '').replace(SCHEME, '').trim() !== '';
}

/** The headers whose values are credentials written inline, by name. */
export function inlineCredentialHeaders(headers: Record<string, string>): string[] {
  return Object.entries(headers)
    .filter(([name, value]) => isInlineCredential(name, value))
    .map(([name]) => name);
}

/** Headers as a reader who may not see credentials sees them: inline ones become `***` (their scheme word kept). */
export function maskInlineCredentials(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, isInlineCredential(name, value) ? `${SCHEME.exec(value)?.[0] ?? ''}${MASK}` : value]));
}

/** A URL with its password (and user name) masked; other URLs unchanged. */
export function maskUrlCredentials(text: string): string {
  if (!urlHasCredentials(text)) return text;
  const end = authorityEnd(text);
  const at = text.lastIndexOf('@', end);
  const start = text.indexOf('//') + 2;
  return at > start ? `${text.slice(0, start)}${MASK}@${text.slice(at + 1)}` : text;
}

/**
 * Every badly written reference of a spec, and every reference in the URL's scheme, credentials,
 * host or port (the target policy judges the host when the endpoint is written, so it must be there
 * as written), with the path of the field.
 */
export function referenceProblemsOf(spec: { url: string; headers?: Record<string, string>; body?: unknown }): { path: PropertyKey[]; message: string }[] {
  const problems: { path: PropertyKey[]; message: string }[] = [];
  const check = (text: string, path: PropertyKey[]) => {
    const problem = referenceProblem(text);
    if (problem) problems.push({ path, message: problem });
  };
  check(spec.url, ['url']);
  const first = spec.url.search(REFERENCE);
  if (first >= 0 && first < authorityEnd(spec.url)) {
    problems.push({ path: ['url'], message: 'a {{secrets.…}} reference may stand only in the path, query or fragment of the URL, not in its scheme, host or port' });
  }
  for (const [header, value] of Object.entries(spec.headers ?? {})) check(value, ['headers', header]);
  eachString(spec.body, ['body'], check);
  return problems;
}
