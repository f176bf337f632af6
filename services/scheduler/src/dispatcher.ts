import { Agent, errors as undiciErrors, request } from 'undici';
import type { HttpMethod } from '@tickwise/machines';

export const MAX_CAPTURED_BYTES = 64 * 1024;

export const ERROR_KINDS = ['http_status', 'timeout', 'connection_refused', 'connection_reset', 'dns', 'tls', 'invalid_url', 'aborted', 'network'] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

export interface DispatchRequest {
  url: string;
  method: HttpMethod;
  headers: Record<string, string>;
  body?: unknown;
  timeoutMs: number;
}

export interface DispatchResult {
  ok: boolean;
  httpStatus: number | null;
  durationMs: number;
  body: string | null;
  truncated: boolean;
  errorKind: ErrorKind | null;
  errorMessage: string | null;
}

class DeadlineError extends Error {
  constructor(timeoutMs: number) {
    super(`no complete response within ${timeoutMs}ms`);
    this.name = 'DeadlineError';
  }
}

export class ShutdownAbort extends Error {
  constructor() {
    super('aborted: the scheduler node is shutting down');
    this.name = 'ShutdownAbort';
  }
}

/** Makes the HTTP calls of one node over keep-alive connections. */
export class Dispatcher {
  private readonly agent = new Agent({ connections: 256, keepAliveTimeout: 10_000, pipelining: 1 });

  /**
   * Calls the target once. Never throws: every failure (timeout, refused, reset, DNS, TLS, bad URL,
   * shutdown) comes back as an outcome. The deadline covers headers and body; at most 64 KiB of the
   * body is kept and the rest is not read.
   */
  async call(target: DispatchRequest, shutdown: AbortSignal): Promise<DispatchResult> {
    const started = performance.now();
    const elapsed = () => Math.round((performance.now() - started) * 100) / 100;
    const controller = new AbortController();
    const deadline = setTimeout(() => controller.abort(new DeadlineError(target.timeoutMs)), target.timeoutMs);
    const onShutdown = () => controller.abort(new ShutdownAbort());
    if (shutdown.aborted) onShutdown();
    else shutdown.addEventListener('abort', onShutdown, { once: true });
    try {
      let url: URL;
      try {
        url = new URL(target.url);
        if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`unsupported protocol ${url.protocol}`);
      } catch (error) {
        return failure(elapsed(), 'invalid_url', `invalid URL "${target.url}": ${(error as Error).message}`);
      }
      const hasBody = target.body !== undefined && target.method !== 'GET';
      const headers = hasBody ? { 'content-type': 'application/json', ...target.headers } : target.headers;
      const response = await request(url, {
        method: target.method,
        headers,
        body: hasBody ? JSON.stringify(target.body) : null,
        signal: controller.signal,
        dispatcher: this.agent,
        headersTimeout: target.timeoutMs,
        bodyTimeout: target.timeoutMs,
      });
      const { text, truncated } = await readCapped(response.body);
      const ok = response.statusCode >= 200 && response.statusCode < 300;
      return {
        ok,
        httpStatus: response.statusCode,
        durationMs: elapsed(),
        body: text,
        truncated,
        errorKind: ok ? null : 'http_status',
        errorMessage: ok ? null : `HTTP ${response.statusCode}`,
      };
    } catch (error) {
      const reason = controller.signal.aborted ? controller.signal.reason : error;
      const [kind, message] = classify(reason);
      return failure(elapsed(), kind, message);
    } finally {
      clearTimeout(deadline);
      shutdown.removeEventListener('abort', onShutdown);
    }
  }

  async close(): Promise<void> {
    await this.agent.destroy().catch(() => undefined);
  }
}

async function readCapped(body: AsyncIterable<Buffer> & { destroy(): void }): Promise<{ text: string; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const room = MAX_CAPTURED_BYTES - size;
    if (chunk.length >= room) {
      if (room > 0) chunks.push(chunk.subarray(0, room));
      // Stop reading: the connection is dropped instead of draining a huge or endless body.
      body.destroy();
      return { text: Buffer.concat(chunks).toString('utf8'), truncated: chunk.length > room };
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  return { text: Buffer.concat(chunks).toString('utf8'), truncated: false };
}

function failure(durationMs: number, kind: ErrorKind, message: string): DispatchResult {
  return { ok: false, httpStatus: null, durationMs, body: null, truncated: false, errorKind: kind, errorMessage: message.slice(0, 1_000) };
}

function classify(error: unknown): [ErrorKind, string] {
  if (error instanceof DeadlineError) return ['timeout', error.message];
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

function rootCause(error: unknown): unknown {
  let current = error;
  for (let depth = 0; depth < 5; depth++) {
    const cause = (current as { cause?: unknown } | null)?.cause;
    if (!cause) break;
    current = cause;
  }
  return current ?? new Error('unknown error');
}
