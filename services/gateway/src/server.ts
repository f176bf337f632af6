import { createServer as createHttp1Server } from 'node:http';
import { createServer as createHttp2Server, type Http2Session } from 'node:http2';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { createContextValues, type ConnectRouter } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';

type NodeHandler = NonNullable<Parameters<typeof connectNodeAdapter>[0]['fallback']>;
import type { Pool } from '@tickwise/db';
import { authInterceptor, errorInterceptor, peerAddressKey } from './auth.ts';
import { AuthLimits } from './auth-limits.ts';
import type { GatewayConfig } from './config.ts';
import { AnalysisService, ApiKeyService, EndpointService, HintService, JobService, NodeService, NotificationService, OverviewService, RunService, SecretService, SigningService, WatchService } from '@tickwise/api';
import { collectProcessMetricsOnce, metricsExposition, type Logger } from '@tickwise/platform';
import { gatewayMetrics, metricsInterceptor } from './metrics.ts';
import { ConnectionGuard } from './connection-guard.ts';
import { inputGuardInterceptor } from './input-guard.ts';
import { auditInterceptor } from './audit.ts';
import { auditService } from './services/audit-service.ts';
import { AuditService } from '@tickwise/api';
import { apiKeyService } from './services/api-key-service.ts';
import type { ServiceDeps } from './services/deps.ts';
import { endpointService } from './services/endpoint-service.ts';
import { hintService } from './services/hint-service.ts';
import { jobService } from './services/job-service.ts';
import { analysisService, runService } from './services/run-service.ts';
import { watchService } from './services/watch-service.ts';
import { nodeService } from './services/node-service.ts';
import { overviewService } from './services/overview-service.ts';
import { notificationService } from './services/notification-service.ts';
import { secretService } from './services/secret-service.ts';
import { signingService } from './services/signing-service.ts';
import { prepareUi, type UiOptions } from './ui-assets.ts';
import { WatchHub } from './watch-hub.ts';
import { WatchKeys } from './watch-keys.ts';

export interface GatewayOptions {
  pool: Pool;
  /** For the watch's LISTEN connection. */
  connectionString: string;
  config: GatewayConfig;
  log: Logger;
  now?: () => Date;
  /** The visualizer's static files (/ui): where they are and whether to build them at start. */
  ui?: UiOptions;
}

export interface Gateway {
  /** `http://host:port` */
  readonly url: string;
  readonly port: number;
  readonly hub: WatchHub;
  /** Ends watches, stops accepting, and closes every connection. */
  close(): Promise<void>;
}


/** `/healthz`: the process answers. `/readyz`: it can reach the database. `/metrics`: Prometheus, unauthenticated. */
function probes(pool: Pool) {
  collectProcessMetricsOnce();
  const handler: NodeHandler = (request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    const reply = (status: number, body: Record<string, unknown>) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    if (path === '/healthz') return reply(200, { status: 'ok' });
    if (path === '/metrics') {
      metricsExposition().then(
        ({ contentType, body }) => {
          response.writeHead(200, { 'content-type': contentType });
          response.end(body);
        },
        (error: Error) => reply(500, { code: 'internal', message: `metrics: ${error.message}` }),
      );
      return;
    }
    if (path === '/readyz') {
      const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer within 2s')), 2_000).unref());
      Promise.race([pool.query('SELECT 1'), timeout]).then(
        () => reply(200, { status: 'ready' }),
        (error: Error) => reply(503, { status: 'unavailable', reason: `database: ${error.message}` }),
      );
      return;
    }
    reply(404, { code: 'not_found', message: `no such path: ${path}` });
  };
  return handler;
}

/** The most header bytes a request may carry over HTTP/2, as Node's HTTP/1.1 parser allows (16 KiB). */
const MAX_HEADER_LIST_BYTES = 16 * 1024;
const PREFACE = 'PRI ';

/**
 * Waits for a connection's first bytes, then says whether it speaks HTTP/2 (its preface starts
 * "PRI ", which no HTTP/1.1 method does). Bytes that arrive one at a time are gathered until they
 * tell; the connection's headers deadline runs meanwhile.
 */
function sniff(socket: Socket, handOff: (http2: boolean) => void): void {
  let seen = Buffer.alloc(0);
  const onReadable = () => {
    for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) seen = Buffer.concat([seen, chunk]);
    const head = seen.subarray(0, PREFACE.length).toString('latin1');
    if (seen.length === 0 || (seen.length < PREFACE.length && PREFACE.startsWith(head))) return;
    socket.off('readable', onReadable);
    socket.unshift(seen);
    handOff(head === PREFACE);
  };
  socket.on('readable', onReadable);
}

/** The visualizer's pages first (/ and /ui...), then the probes. */
function withUi(ui: Awaited<ReturnType<typeof prepareUi>>, next: NodeHandler): NodeHandler {
  return (request, response) => {
    if (!ui(request, response)) next(request, response);
  };
}

/**
 * Serves the API on one port for all three protocols: HTTP/2 without TLS (h2c, "prior knowledge":
 * gRPC, and Connect or gRPC-Web over HTTP/2) and HTTP/1.1 (Connect JSON and gRPC-Web, curl). Node's
 * cleartext HTTP/2 server has no HTTP/1.1 fallback, so each connection's first bytes pick the
 * server: the HTTP/2 preface starts with "PRI ", no HTTP/1.1 method does. Every connection has
 * deadlines from the moment it is accepted (ConnectionGuard), the port takes at most
 * `maxConnections`, and failed authentications are limited per client address (AuthLimits).
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { pool, config, log } = options;
  if (!config.secretsKeys.current) log.warn('TICKWISE_SECRETS_KEY is not set: SetSecret is refused (FAILED_PRECONDITION) until it is; calls that use secrets need it on the scheduler nodes too');
  const hub = new WatchHub({ pool, connectionString: options.connectionString, pollIntervalMs: config.watchPollIntervalMs, minIntervalMs: config.watchMinIntervalMs, log });
  const watchKeys = new WatchKeys(pool, config.watchKeyRecheckMs, log);
  const deps: ServiceDeps = { pool, log, config, hub, watchKeys, now: options.now ?? (() => new Date()) };
  const routes = (router: ConnectRouter) => {
    router.service(JobService, jobService(deps));
    router.service(EndpointService, endpointService(deps));
    router.service(RunService, runService(deps));
    router.service(HintService, hintService(deps));
    router.service(AnalysisService, analysisService(deps));
    router.service(WatchService, watchService(deps));
    router.service(ApiKeyService, apiKeyService(deps));
    router.service(OverviewService, overviewService(deps));
    router.service(NodeService, nodeService(deps));
    router.service(NotificationService, notificationService(deps));
    router.service(SecretService, secretService(deps));
    router.service(SigningService, signingService(deps));
    router.service(AuditService, auditService(deps));
  };
  const handler = connectNodeAdapter({
    routes,
    interceptors: [metricsInterceptor(), errorInterceptor(log), authInterceptor(pool, log, new AuthLimits(config)), auditInterceptor(pool, log), inputGuardInterceptor()],
    contextValues: (request) => createContextValues().set(peerAddressKey, request.socket?.remoteAddress),
    readMaxBytes: config.readMaxBytes,
    // A misspelt field is an error rather than silently dropped (Connect JSON; binary is unaffected).
    jsonOptions: { ignoreUnknownFields: false },
    fallback: withUi(await prepareUi(options.ui ?? {}, log), probes(pool)),
  });
  const http1 = createHttp1Server(handler);
  const http2 = createHttp2Server(
    {
      // Node's default is 2^32-1 concurrent streams per connection; a client gets this many calls in
      // flight on one connection, and more wait (or are refused) instead of piling up.
      settings: { maxConcurrentStreams: config.maxStreamsPerConnection, maxHeaderListSize: MAX_HEADER_LIST_BYTES },
    },
    handler,
  );
  const guard = new ConnectionGuard(http1, http2, config, log);
  const sessions = new Set<Http2Session>();
  http2.on('session', (session: Http2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  const server = createNetServer((socket) => {
    guard.accept(socket);
    sniff(socket, (isHttp2) => guard.handOff(socket, isHttp2));
    socket.on('error', (error) => log.debug('connection error', { error: error.message }));
  });
  // Past the cap Node closes a connection as soon as it is accepted, and says so with 'drop'.
  server.maxConnections = config.maxConnections;
  let warnedAt = 0;
  server.on('drop', () => {
    gatewayMetrics.refused.inc();
    if (Date.now() - warnedAt < 60_000) return;
    warnedAt = Date.now();
    log.warn('connection cap reached: new connections are refused', { maxConnections: config.maxConnections, setting: 'TICKWISE_GATEWAY_MAX_CONNECTIONS' });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`,
    port,
    hub,
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        await hub.close();
        watchKeys.close();
        // The ended watches write their last frames; then connections close as they go idle, and
        // whatever is still open after a grace period is cut.
        for (const session of sessions) session.close();
        const deadline = Date.now() + 1_000;
        while (guard.closeIdle() > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
        for (const session of sessions) session.destroy();
        guard.destroyAll();
        await stopped;
      })();
      return closing;
    },
  };
}
