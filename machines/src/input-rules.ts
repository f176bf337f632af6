/**
 * What any text, number or header a person writes must be for Tickwise to store it and send it: the
 * rules every write path shares (the jobs file read by the CLI, the gateway's requests, the catalog),
 * so a bad value is refused where it is written, naming its field, instead of failing in PostgreSQL
 * (an `internal` answer) or at every run (a misleading error kind). Pure.
 */

/** Sizes a request or a jobs file may have; the API and both `apply` paths use these, by these names. */
export const INPUT_LIMITS = {
  /** Characters of an endpoint URL. */
  urlMax: 2_048,
  /** Headers of an endpoint. */
  headersMax: 50,
  /** Characters of a header name. */
  headerNameMax: 256,
  /** Characters of a header value. */
  headerValueMax: 4_096,
  /** Bytes of an endpoint body written as JSON (UTF-8). */
  bodyMaxBytes: 64 * 1024,
  /** Levels of arrays and objects in a body: deeper ones overflow recursive parsers on the way (PostgreSQL's jsonb among them). */
  bodyDepthMax: 32,
  /** Jobs in one apply (a jobs file, an ApplyJobs call). */
  jobsPerApply: 100,
  /** Endpoints of one job (the API's quota of a job, archived ones included). */
  endpointsPerJob: 1_000,
  /**
   * Endpoints of all jobs in one ApplyJobs call: a limit of the API's request (at most 1 MiB), not
   * of a jobs file, whose own size limits bound it on the database path.
   */
  endpointsPerApply: 1_000,
} as const;

/** A problem at a place inside a value: `path` is relative to where the check started. */
export interface ValueProblem {
  path: (string | number)[];
  message: string;
}

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function codePoint(char: string): string {
  return `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * Why `text` cannot be stored, or undefined. PostgreSQL refuses NUL in `text` and in `jsonb` (both
 * are C strings inside), and a lone UTF-16 surrogate is not Unicode at all: `jsonb` refuses its
 * `\ud800` escape, and a `text` parameter would silently become U+FFFD. Every string a request or
 * a jobs file carries to the database passes here.
 */
export function textProblem(text: string): string | undefined {
  const nul = text.indexOf('\u0000');
  if (nul >= 0) return `must not contain the NUL character (U+0000, at character ${nul + 1})`;
  const lone = LONE_SURROGATE.exec(text);
  if (lone) return `must be valid Unicode: it holds a lone surrogate (${codePoint(lone[0])}, at character ${lone.index + 1})`;
  return undefined;
}

/**
 * Why `value` cannot be a number Tickwise keeps and sends, or undefined: it must be finite (JSON has
 * no Infinity or NaN: `1e400` parses as Infinity, and JSON.stringify would send `null`) and within
 * ±(2^53 − 1): past that a JSON parser (JavaScript's, where a request or a YAML file is read) has
 * already rounded it, so what was written is not what would be sent. Larger numbers go as strings.
 */
export function numberProblem(value: number): string | undefined {
  if (!Number.isFinite(value)) return `must be a finite number, not ${String(value)} (JSON has neither Infinity nor NaN; a number like 1e400 overflows to Infinity)`;
  if (Math.abs(value) > Number.MAX_SAFE_INTEGER) return `${String(value)} is beyond ±${Number.MAX_SAFE_INTEGER} and cannot be kept exactly (it may already have been rounded): write it as a string`;
  return undefined;
}

/** How many problems a value reports at most: one bad character repeated in a big body is one mistake. */
const MAX_PROBLEMS = 10;

/**
 * Every problem of a JSON value (an endpoint body): strings (keys too) by `textProblem`, numbers by
 * `numberProblem`, nesting deeper than `bodyDepthMax`, anything that is not JSON. Pure.
 */
export function jsonValueProblems(value: unknown): ValueProblem[] {
  const problems: ValueProblem[] = [];
  const walk = (node: unknown, path: (string | number)[], depth: number): void => {
    if (problems.length >= MAX_PROBLEMS) return;
    if (node === null || typeof node === 'boolean') return;
    if (typeof node === 'string') {
      const problem = textProblem(node);
      if (problem) problems.push({ path, message: problem });
      return;
    }
    if (typeof node === 'number') {
      const problem = numberProblem(node);
      if (problem) problems.push({ path, message: problem });
      return;
    }
    if (typeof node !== 'object') {
      problems.push({ path, message: `is not a JSON value (${typeof node})` });
      return;
    }
    if (depth >= INPUT_LIMITS.bodyDepthMax) {
      problems.push({ path, message: `nests deeper than ${INPUT_LIMITS.bodyDepthMax} levels of arrays and objects` });
      return;
    }
    if (Array.isArray(node)) {
      node.forEach((item, index) => walk(item, [...path, index], depth + 1));
      return;
    }
    if (Object.getPrototypeOf(node) !== Object.prototype && Object.getPrototypeOf(node) !== null) {
      problems.push({ path, message: 'is not a JSON value (an object of another kind)' });
      return;
    }
    for (const [key, item] of Object.entries(node)) {
      const keyProblem = textProblem(key);
      // The key itself is left out of the path: it is what cannot be printed or stored.
      if (keyProblem) problems.push({ path, message: `the key ${JSON.stringify(key)} ${keyProblem}` });
      else walk(item, [...path, key], depth + 1);
    }
  };
  walk(value, [], 0);
  return problems;
}

/**
 * Headers a spec may never set, with why. Each is about the connection or the message framing, which
 * the HTTP client owns: undici refuses Transfer-Encoding, Keep-Alive, Upgrade and Expect outright and
 * a Connection that is not a token list, and a Content-Length that disagrees with the body fails the
 * call; the others are hop-by-hop (RFC 9110 §7.6.1) or meant for a proxy there is none of. Host is
 * refused because it comes from the URL: another Host would reach a site the URL (and so the target
 * policy, which judges the URL's host) does not name, on the same address.
 */
const FORBIDDEN_HEADERS: ReadonlyMap<string, string> = new Map([
  ['host', 'is taken from the URL (put the host in the URL)'],
  ['content-length', 'is computed from the body when the call is made'],
  ['transfer-encoding', 'is chosen by the HTTP client (the body is sent with its length)'],
  ['connection', 'belongs to the connection, which the HTTP client manages'],
  ['keep-alive', 'belongs to the connection, which the HTTP client manages'],
  ['upgrade', 'would switch protocols, which a scheduled call never does'],
  ['te', 'is a hop-by-hop header the HTTP client manages'],
  ['trailer', 'announces trailer fields, which a call never sends'],
  ['expect', 'is not supported by the HTTP client (100-continue is never awaited)'],
]);

/** Why a spec may not set header `name`, or undefined. Case-insensitive, as HTTP is. */
export function forbiddenHeaderReason(name: string): string | undefined {
  const lower = name.toLowerCase();
  const reason = FORBIDDEN_HEADERS.get(lower) ?? (lower.startsWith('proxy-') ? 'is meant for a proxy, and calls go through none' : undefined);
  return reason === undefined ? undefined : `header "${name}" cannot be set: it ${reason}`;
}

// RFC 9110 §5.5: field-vchar = VCHAR / obs-text, with SP and HTAB between; undici refuses the same set.
const BAD_HEADER_CHAR = /[^\t\x20-\x7e\x80-\xff]/;

/**
 * Why `value` cannot be sent as a header value, or undefined (RFC 9110 §5.5): visible ASCII, Latin-1
 * (obs-text, U+0080–U+00FF, sent as one byte each), spaces and tabs, and neither of those at either
 * end (HTTP strips them, so the target would not see what was written). CR and LF would end the
 * header; anything past U+00FF has no byte to be sent as, so undici refuses the call.
 */
export function headerValueProblem(value: string): string | undefined {
  if (value.length > INPUT_LIMITS.headerValueMax) return `must be at most ${INPUT_LIMITS.headerValueMax} characters`;
  const text = textProblem(value);
  if (text) return text;
  const bad = BAD_HEADER_CHAR.exec(value);
  if (bad) {
    const char = bad[0];
    const at = `at character ${bad.index + 1}`;
    if (char === '\r' || char === '\n') return `must not contain a line break (${char === '\r' ? 'CR' : 'LF'} ${at}): it would end the header`;
    if (char.charCodeAt(0) < 0x20 || char === '\x7f') return `must not contain the control character ${codePoint(char)} (${at})`;
    return `cannot hold "${char}" (${codePoint(char)}, ${at}): a header value may hold only visible ASCII, spaces, tabs and Latin-1 characters (U+0080–U+00FF); percent-encode or base64 it`;
  }
  if (/^[ \t]|[ \t]$/.test(value)) return 'must not start or end with a space or tab (HTTP drops them, so the target would not see them)';
  return undefined;
}

/** Whether `text` is an absolute http:// or https:// URL with a host. Pure. */
export function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

/**
 * Why `url` cannot be stored as a call's or a notification's address, or undefined (before it is
 * parsed as a URL): at most `urlMax` characters, text PostgreSQL keeps, and no spaces or control
 * characters, which the URL parser would silently drop or encode, so the stored URL would not be the
 * one called.
 */
export function urlTextProblem(url: string): string | undefined {
  if (url.length > INPUT_LIMITS.urlMax) return `must be at most ${INPUT_LIMITS.urlMax} characters`;
  const text = textProblem(url);
  if (text) return text;
  const bad = /[\u0000-\u0020\u007f]/.exec(url);
  if (bad) return `must not contain ${bad[0] === ' ' ? 'a space' : `the control character ${codePoint(bad[0])}`} (at character ${bad.index + 1}): percent-encode it`;
  return undefined;
}

/** A zod refinement that reports `textProblem` on the string it checks (`z.string().superRefine(checkText)`). */
export function checkText(text: string, ctx: { addIssue(issue: { code: 'custom'; message: string }): void }): void {
  const problem = textProblem(text);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
}

/**
 * Why one apply (a jobs file on either path, an ApplyJobs call) is too big: too many jobs (`jobs`),
 * too many endpoints in a job (`jobs[i].endpoints`), with the same words on the API and in a file.
 * The API's total per call (endpointsPerApply) is the gateway's to add. Pure.
 */
export function applySizeProblems(jobs: readonly { endpoints: readonly unknown[] }[]): ValueProblem[] {
  const problems: ValueProblem[] = [];
  if (jobs.length > INPUT_LIMITS.jobsPerApply) problems.push({ path: [], message: `must have at most ${INPUT_LIMITS.jobsPerApply} jobs` });
  jobs.forEach((job, index) => {
    if (job.endpoints.length > INPUT_LIMITS.endpointsPerJob) problems.push({ path: [index, 'endpoints'], message: `must have at most ${INPUT_LIMITS.endpointsPerJob} endpoints (a job's limit; this has ${job.endpoints.length})` });
  });
  return problems;
}
