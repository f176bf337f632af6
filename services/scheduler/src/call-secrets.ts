import { MASK, mentionsSecrets, replaceSecretRefs, secretRefsOf } from '@tickwise/machines';
import type { CallOutcome, DispatchRequest } from './dispatcher.ts';

// The values of `{{secrets.NAME}}` go into a call at the last moment and come out of what is kept of
// it: the captured body and the error message. All pure.

/** The secret names a request references, once each (none for most calls). Pure; executes nothing. */
export function secretNamesOf(request: Pick<DispatchRequest, 'url' | 'headers' | 'body'>): string[] {
  if (!mentionsSecrets(request)) return [];
  return [...new Set(secretRefsOf(request).map((ref) => ref.name))];
}

function replaceInBody(value: unknown, valueOf: (name: string) => string): unknown {
  if (typeof value === 'string') return replaceSecretRefs(value, valueOf);
  if (Array.isArray(value)) return value.map((item) => replaceInBody(item, valueOf));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, replaceInBody(item, valueOf)]));
  return value;
}

/**
 * The request with the values put in: percent-encoded in the URL (a value cannot change where the
 * call goes), as they are in header values, inside the JSON strings of the body (so JSON escapes
 * them). Pure; executes nothing.
 */
export function withSecretValues(request: DispatchRequest, values: ReadonlyMap<string, string>): DispatchRequest {
  const valueOf = (name: string) => values.get(name) ?? '';
  return {
    ...request,
    url: replaceSecretRefs(request.url, valueOf, encodeURIComponent),
    headers: Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, replaceSecretRefs(value, valueOf)])),
    ...(request.body === undefined ? {} : { body: replaceInBody(request.body, valueOf) }),
  };
}

const ENCODINGS: readonly ((text: string) => string)[] = [(text) => JSON.stringify(text).slice(1, -1), encodeURIComponent];
/** How deep encodings may nest: a target that echoes the JSON it received inside JSON escapes twice. */
const ENCODING_DEPTH = 3;

/** The spellings in which a target may echo a value: as sent, and JSON-escaped or percent-encoded, up to three times over. */
function spellings(values: Iterable<string>): string[] {
  const forms = new Set<string>();
  for (const value of values) {
    if (value === '') continue;
    let layer = [value];
    for (let depth = 0; depth <= ENCODING_DEPTH; depth++) {
      for (const form of layer) forms.add(form);
      layer = layer.flatMap((form) => ENCODINGS.map((encode) => encode(form)));
    }
  }
  // Longest first: a value that contains another is masked whole.
  return [...forms].sort((a, b) => b.length - a.length);
}

/**
 * `text` with every spelling of every value replaced by `***`. When the text was cut (`truncated`),
 * a tail that starts a value (4 characters or more of it, or all but its last) is masked too, so a
 * value cut in half does not leak its first half. Pure; executes nothing.
 */
export function maskSecretValues(text: string, values: Iterable<string>, truncated = false): string {
  const forms = spellings(values);
  let out = text;
  for (const form of forms) out = out.split(form).join(MASK);
  if (truncated) {
    for (const form of forms) {
      for (let length = form.length - 1; length >= Math.min(4, form.length - 1) && length > 0; length--) {
        if (out.endsWith(form.slice(0, length))) return `${out.slice(0, out.length - length)}${MASK}`;
      }
    }
  }
  return out;
}

/** What is kept of a call that used secrets, with their values masked. Pure; executes nothing. */
export function maskOutcome(outcome: CallOutcome, values: Iterable<string>): CallOutcome {
  const list = [...values];
  return {
    ...outcome,
    responseBody: outcome.responseBody === null ? null : maskSecretValues(outcome.responseBody, list, outcome.responseTruncated),
    errorMessage: outcome.errorMessage === null ? null : maskSecretValues(outcome.errorMessage, list),
  };
}
