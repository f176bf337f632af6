import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Pool } from '@tickwise/db';
import { collectProcessMetricsOnce, envText, invalidConfig, metricsExposition, TickwiseError, type Logger } from '@tickwise/platform';

/**
 * The operations endpoints of a process that has no API port of its own (`tickwise scheduler`,
 * `tickwise planner`, `tickwise analytics`): `/healthz`, `/readyz` and `/metrics` on a small HTTP
 * server. docs/operations.md says what each answers.
 */

export const DEFAULT_OPS_PORT = 9090;
export const DEFAULT_OPS_HOST = '0.0.0.0';
const READY_TIMEOUT_MS = 2_000;

export interface OpsSettings {
  host: string;
  /** 0 picks a free port (it is logged). */
  port: number;
  /** TICKWISE_OPS_PORT named the port; false when it is the default. */
  explicit: boolean;
}

/** TICKWISE_OPS_PORT (default 9090, `off` for none) and TICKWISE_OPS_HOST (default 0.0.0.0); null when off. Pure. */
export function opsSettingsFromEnv(env: NodeJS.ProcessEnv): OpsSettings | null {
  // Not envPort: 0 (a free port) and "off" are allowed here.
  const rawPort = envText(env, 'TICKWISE_OPS_PORT');
  const host = envText(env, 'TICKWISE_OPS_HOST') ?? DEFAULT_OPS_HOST;
  if (rawPort === 'off') return null;
  if (rawPort === undefined) return { host, port: DEFAULT_OPS_PORT, explicit: false };
  if (!/^\d{1,5}$/.test(rawPort) || Number(rawPort) > 65_535) throw invalidConfig(`TICKWISE_OPS_PORT must be a port number (0-65535) or "off", got "${rawPort}"`);
  return { host, port: Number(rawPort), explicit: true };
}

/**
 * An extra JSON route of a process (analytics' `/figures`): its value is the 200 answer; an Error it
 * throws is the caller's fault (a bad query parameter) and answers 400 with its message.
 */
export type OpsRoute = (query: URLSearchParams) => unknown;

export interface OpsServerOptions {
  host: string;
  port: number;
  /** Resolves when the process can do its work; rejects with the reason `/readyz` gives when not. */
  ready: () => Promise<void>;
  log: Logger;
  /** A readiness check still unanswered after this long fails (default 2 s). */
  readyTimeoutMs?: number;
  /** More paths, beside the three probes (which they cannot replace). */
  routes?: Record<string, OpsRoute>;
}

export interface OpsServer {
  /** `http://host:port` */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Rejects with `database: <why>` unless the database answers. */
export async function databaseReachable(pool: Pool): Promise<void> {
  try {
    await pool.query('SELECT 1');
  } catch (error) {
    throw new TickwiseError('unavailable', `database: ${(error as Error).message}`, { cause: error });
  }
}

function reply(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

/**
 * Serves `/healthz` (the process answers), `/readyz` (`ready` resolves in time: 200, else 503 with
 * the reason) and `/metrics` (prom-client's default registry). Rejects with the listen error
 * (EADDRINUSE, ...) when the port cannot be had.
 */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  collectProcessMetricsOnce();
  const timeoutMs = options.readyTimeoutMs ?? READY_TIMEOUT_MS;
  const routes = new Map(Object.entries(options.routes ?? {}));
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://ops');
    const path = url.pathname;
    if (path === '/healthz') return reply(response, 200, { status: 'ok' });
    if (path === '/readyz') {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new TickwiseError('deadline_exceeded', `no answer within ${timeoutMs}ms`)), timeoutMs);
      });
      Promise.race([options.ready(), timeout])
        .then(
          () => reply(response, 200, { status: 'ready' }),
          (error: Error) => reply(response, 503, { status: 'unavailable', reason: error.message }),
        )
        .finally(() => clearTimeout(timer));
      return;
    }
    if (path === '/metrics') {
      metricsExposition().then(
        ({ contentType, body }) => {
          response.writeHead(200, { 'content-type': contentType });
          response.end(body);
        },
        (error: Error) => reply(response, 500, { code: 'internal', message: `metrics: ${error.message}` }),
      );
      return;
    }
    const route = routes.get(path);
    if (route) {
      Promise.resolve()
        .then(() => route(url.searchParams))
        .then(
          (body) => reply(response, 200, body),
          (error: Error) => reply(response, 400, { code: 'invalid_argument', message: error.message }),
        );
      return;
    }
    reply(response, 404, { code: 'not_found', message: `no such path: ${path} (${['/healthz', '/readyz', '/metrics', ...routes.keys()].join(', ')})` });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (error) => options.log.warn('ops server error', { error: error.message }));
  const { port } = server.address() as AddressInfo;
  const shownHost = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;
  const url = `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`;
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // A scraper's keep-alive connection would hold the close open.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/**
 * The ops server a command asks for, or null when TICKWISE_OPS_PORT is off. A port that is taken is
 * an error when TICKWISE_OPS_PORT named it; the default port only earns a warning, so several
 * processes on one host (several scheduler nodes) still start.
 */
export async function serveOps(settings: OpsSettings | null, ready: () => Promise<void>, log: Logger, routes?: Record<string, OpsRoute>): Promise<OpsServer | null> {
  if (!settings) {
    log.info('ops endpoints off (TICKWISE_OPS_PORT=off): no /healthz, /readyz or /metrics');
    return null;
  }
  const { host, port } = settings;
  try {
    const ops = await startOpsServer({ host, port, ready, log, ...(routes ? { routes } : {}) });
    log.info('ops endpoints listening', { url: ops.url, paths: ['/healthz', '/readyz', '/metrics', ...Object.keys(routes ?? {})].join(' ') });
    return ops;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' && !settings.explicit) {
      log.warn(`the default ops port ${port} is taken: no /healthz, /readyz or /metrics from this process; set TICKWISE_OPS_PORT to serve them on another port`, { host, port });
      return null;
    }
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
      throw invalidConfig(`cannot serve the ops endpoints on ${host}:${port} (${code}); set TICKWISE_OPS_PORT to a free port (or "off") and TICKWISE_OPS_HOST to an address of this host`);
    }
    throw error;
  }
}
