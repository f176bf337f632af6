import type { lookup } from 'node:dns';
import { Agent, errors as undiciErrors } from 'undici';
import type { RunOutcome } from '@tickwise/db';
import { judgeAnswer, type HttpMethod, type SuccessRule } from '@tickwise/machines';
import { checkTarget, DEFAULT_TARGET_POLICY, isTickwiseError, parseRetryAfter, policyLookup, TARGET_DENIED, withWebhookHeaders, type TargetPolicy } from '@tickwise/platform';
import { maskOutcome, secretNamesOf, withSecretValues } from './call-secrets.ts';
import type { SecretValues } from './secret-values.ts';
import type { SecretSource } from './signing.ts';
import { CappedAnswer } from './capped-answer.ts';

export const ERROR_KINDS = ['http_status', 'assertion', 'timeout', 'connection_refused', 'connection_reset', 'dns', 'tls', 'invalid_url', 'aborted', 'network', 'target_denied', 'signing', 'secret_missing'] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

export interface DispatchRequest {
  url: string;
  method: HttpMethod;
  headers: Record<string, string>;
  body?: unknown;
  timeoutMs: number;
  /** What a successful answer is (default: any 2xx). */
  success?: SuccessRule;
  /** Sign the call (Standard Webhooks) if the endpoint, or else its tenant, has signing secrets. */
  sign?: SignAs;
  /** Whose `{{secrets.NAME}}` the URL, headers and body may reference. */
  tenantId?: string | null;
}

export interface SignAs {
  endpointId: string;
  tenantId?: string | null;
  /** `webhook-id`: the Idempotency-Key, the same for every attempt at a slot, so receivers dedupe on it. */
  webhookId: string;
}

export interface DispatcherOptions {
  /** Which targets may be called (default: public ones; cloud metadata and private addresses refused). */
  policy?: TargetPolicy;
  /** How names are resolved (default `dns.lookup`; tests give a fake resolver to check the connection-time policy). */
  resolve?: typeof lookup;
  /** Where signing secrets come from; without one no call is signed. */
  secrets?: SecretSource;
  /** Where the values of `{{secrets.NAME}}` come from; without one a call that references a secret is not sent. */
  values?: SecretValues;
}

/** What one call came to: a run's outcome fields, with the error kind from the closed set above. */
export type CallOutcome = Omit<RunOutcome, 'errorKind'> & { errorKind: ErrorKind | null };


class DeadlineError extends Error {
  constructor(timeoutMs: number) {
    super(`no complete response within ${timeoutMs}ms`);
    this.name = 'DeadlineError';
  }
}

class ShutdownAbort extends Error {
  constructor() {
    super('aborted: the scheduler node is shutting down');
    this.name = 'ShutdownAbort';
  }
}

/** How many distinct target URLs keep their parsed form and verdict; past it the cache starts over. */
const CHECKED_URLS = 10_000;

/** A target URL parsed once: what undici's dispatch takes (origin, path) and the policy's verdict. */
type CheckedUrl = { origin: string; path: string; verdict: ReturnType<typeof checkTarget> } | { problem: string };

/** Makes the HTTP calls of one node over keep-alive connections. */
export class Dispatcher {
  private readonly policy: TargetPolicy;
  /** The calls in flight under each shutdown signal: one listener per signal, not one per call. */
  private readonly callsUnder = new WeakMap<AbortSignal, Set<CappedAnswer>>();
  /** Target URLs parsed and judged by the policy (fixed for the node's life), by their text. */
  private readonly checked = new Map<string, CheckedUrl>();
  private readonly secrets: SecretSource | undefined;
  private readonly values: SecretValues | undefined;
  private readonly agent: Agent;

  constructor(options: DispatcherOptions = {}) {
    this.policy = options.policy ?? DEFAULT_TARGET_POLICY;
    this.secrets = options.secrets;
    this.values = options.values;
    // Every new connection resolves through the policy: the addresses checked are the ones connected to.
    this.agent = new Agent({ connections: 256, keepAliveTimeout: 10_000, pipelining: 1, connect: { lookup: policyLookup(this.policy, options.resolve) } });
  }

  /**
   * Calls the target once. Never throws: every failure (timeout, refused, reset, DNS, TLS, bad URL,
   * a target the policy denies, secrets that cannot be loaded, shutdown, an answer the success rule
   * does not accept) comes back as an outcome.
   * The deadline covers headers and body; at most 64 KiB of the body is kept and the rest is not
   * read. A signed call is signed over exactly the bytes sent, at the time it is sent. The values of
   * the secrets a call references are put in here, and masked (`***`) in the body and error kept;
   * a call whose secrets cannot all be had is not sent (`secret_missing`).
   */
  async call(target: DispatchRequest, shutdown: AbortSignal): Promise<CallOutcome> {
    const names = secretNamesOf(target);
    if (names.length === 0) return this.send(target, shutdown);
    const started = performance.now();
    let resolved: Awaited<ReturnType<SecretValues['valuesFor']>>;
    try {
      resolved = this.values && target.tenantId ? await this.values.valuesFor(target.tenantId, names) : { problem: 'this node has no secrets store' };
    } catch (error) {
      resolved = { problem: `the secrets could not be loaded: ${(error as Error).message}` };
    }
    if ('problem' in resolved) return failure(Math.round((performance.now() - started) * 100) / 100, 'secret_missing', `not sent: ${resolved.problem}`);
    return maskOutcome(await this.send(withSecretValues(target, resolved.values), shutdown), resolved.values.values());
  }

  private async send(target: DispatchRequest, shutdown: AbortSignal): Promise<CallOutcome> {
    const started = performance.now();
    const elapsed = () => Math.round((performance.now() - started) * 100) / 100;
    const answer = new CappedAnswer();
    const deadline = setTimeout(() => answer.abort(new DeadlineError(target.timeoutMs)), target.timeoutMs);
    if (shutdown.aborted) answer.abort(new ShutdownAbort());
    const calls = this.callsUnderSignal(shutdown);
    calls.add(answer);
    try {
      const checked = this.check(target.url);
      if ('problem' in checked) return failure(elapsed(), 'invalid_url', checked.problem);
      if (!checked.verdict.allowed) return failure(elapsed(), 'target_denied', checked.verdict.message);
      const hasBody = target.body !== undefined && target.method !== 'GET';
      const payload = hasBody ? Buffer.from(JSON.stringify(target.body)) : null;
      let headers = hasBody ? { 'content-type': 'application/json', ...target.headers } : target.headers;
      if (target.sign && this.secrets) {
        let secrets: readonly Buffer[];
        try {
          const found = this.secrets.secretsFor(target.sign.endpointId, target.sign.tenantId);
          secrets = found instanceof Promise ? await found : found;
        } catch (error) {
          return failure(elapsed(), 'signing', `not sent: the signing secrets could not be loaded: ${(error as Error).message}`);
        }
        if (secrets.length > 0) headers = withWebhookHeaders(headers, target.sign.webhookId, Math.floor(Date.now() / 1000), payload ?? EMPTY, secrets);
      }
      // The deadline or shutdown came while the signing secrets loaded: no connection, nothing sent.
      if (answer.aborted) {
        const [kind, message] = classify(await answer.settled);
        return failure(elapsed(), kind, `not sent: ${message}`);
      }
      this.agent.dispatch({ origin: checked.origin, path: checked.path, method: target.method, headers, body: payload, headersTimeout: target.timeoutMs, bodyTimeout: target.timeoutMs }, answer);
      const response = await answer.settled;
      if (response instanceof Error) {
        const [kind, message] = classify(response);
        return failure(elapsed(), kind, message);
      }
      const judged = judgeAnswer(target.success, response.statusCode, response.text);
      return {
        status: judged.ok ? 'succeeded' : 'failed',
        httpStatus: response.statusCode,
        durationMs: elapsed(),
        responseBody: response.text,
        responseTruncated: response.truncated,
        errorKind: judged.ok ? null : judged.kind,
        errorMessage: judged.ok ? null : judged.message,
        retryAfterMs: response.retryAfter === undefined ? null : parseRetryAfter(response.retryAfter, Date.now()),
      };
    } catch (error) {
      // Not the call's own failure (those settle as outcomes above): the request could not be made.
      const [kind, message] = classify(error);
      return failure(elapsed(), kind, message);
    } finally {
      clearTimeout(deadline);
      calls.delete(answer);
    }
  }

  private callsUnderSignal(shutdown: AbortSignal): Set<CappedAnswer> {
    let calls = this.callsUnder.get(shutdown);
    if (!calls) {
      const inFlight = new Set<CappedAnswer>();
      shutdown.addEventListener('abort', () => inFlight.forEach((call) => call.abort(new ShutdownAbort())), { once: true });
      this.callsUnder.set(shutdown, inFlight);
      calls = inFlight;
    }
    return calls;
  }

  /** The URL parsed and judged by the policy, once per distinct URL text. */
  private check(text: string): CheckedUrl {
    let checked = this.checked.get(text);
    if (checked) return checked;
    try {
      const url = new URL(text);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`unsupported protocol ${url.protocol}`);
      checked = { origin: url.origin, path: `${url.pathname}${url.search}`, verdict: checkTarget(url, this.policy) };
    } catch (error) {
      checked = { problem: `invalid URL "${text}": ${(error as Error).message}` };
    }
    if (this.checked.size >= CHECKED_URLS) this.checked.clear();
    this.checked.set(text, checked);
    return checked;
  }

  async close(): Promise<void> {
    await this.agent.destroy().catch(() => undefined);
  }
}

const EMPTY = new Uint8Array(0);

function failure(durationMs: number, kind: ErrorKind, message: string): CallOutcome {
  return { status: 'failed', httpStatus: null, durationMs, responseBody: null, responseTruncated: false, errorKind: kind, errorMessage: message.slice(0, 1_000), retryAfterMs: null };
}

function classify(error: unknown): [ErrorKind, string] {
  if (error instanceof DeadlineError) return ['timeout', error.message];
  const denied = findInChain(error, (cause) => isTickwiseError(cause) && cause.reason === TARGET_DENIED);
  if (denied) return ['target_denied', (denied as Error).message];
  if (error instanceof ShutdownAbort) return ['aborted', error.message];
  if (error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError) return ['timeout', (error as Error).message];
  const root = rootCause(error);
  const code = (root as { code?: string }).code ?? '';
  const message = `${code ? `${code}: ` : ''}${(root as Error).message ?? String(root)}`;
  if (code === 'ECONNREFUSED') return ['connection_refused', message];
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET' || code === 'UND_ERR_CLOSED') return ['connection_reset', message];
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return ['dns', message];
  if (code.startsWith('ERR_TLS') || code.includes('CERT') || code === 'EPROTO') return ['tls', message];
  if (code === 'ERR_INVALID_URL' || code === 'UND_ERR_INVALID_ARG') return ['invalid_url', message];
  return ['network', message];
}

function findInChain(error: unknown, matches: (cause: unknown) => boolean): unknown {
  let current = error;
  for (let depth = 0; depth < 6 && current; depth++) {
    if (matches(current)) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function rootCause(error: unknown): unknown {
  let current = error;
  for (let depth = 0; depth < 5; depth++) {
    const cause = (current as { cause?: unknown } | null)?.cause;
    if (!cause) break;
    current = cause;
  }
  return current ?? new Error('unknown error');
}
