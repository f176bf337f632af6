import { createServer as createHttp1Server } from 'node:http';
import { createServer as createHttp2Server, type Http2Session } from 'node:http2';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import type { ConnectRouter } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';

type NodeHandler = NonNullable<Parameters<typeof connectNodeAdapter>[0]['fallback']>;
import type { Pool } from '@tickwise/db';
import { authInterceptor, errorInterceptor } from './auth.ts';
import type { GatewayConfig } from './config.ts';
import { AnalysisService, ApiKeyService, EndpointService, HintService, JobService, NodeService, OverviewService, RunService, SecretService, SigningService, WatchService } from '@tickwise/api';
import { collectProcessMetricsOnce, metricsExposition, type Logger } from '@tickwise/platform';
import { metricsInterceptor } from './metrics.ts';
import { apiKeyService } from './services/api-key-service.ts';
import type { ServiceDeps } from './services/deps.ts';
import { endpointService } from './services/endpoint-service.ts';
import { hintService } from './services/hint-service.ts';
import { jobService } from './services/job-service.ts';
import { analysisService, runService } from './services/run-service.ts';
import { watchService } from './services/watch-service.ts';
import { nodeService } from './services/node-service.ts';
import { overviewService } from './services/overview-service.ts';
import { secretService } from './services/secret-service.ts';
import { signingService } from './services/signing-service.ts';
import { prepareUi, type UiOptions } from './ui-assets.ts';
import { WatchHub } from './watch-hub.ts';

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
 * server: the HTTP/2 preface starts with "PRI ", no HTTP/1.1 method does.
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { pool, config, log } = options;
  if (!config.secretsKeys.current) log.warn('TICKWISE_SECRETS_KEY is not set: SetSecret is refused (FAILED_PRECONDITION) until it is; calls that use secrets need it on the scheduler nodes too');
  const hub = new WatchHub({ pool, connectionString: options.connectionString, pollIntervalMs: config.watchPollIntervalMs, minIntervalMs: config.watchMinIntervalMs, log });
  const deps: ServiceDeps = { pool, log, config, hub, now: options.now ?? (() => new Date()) };
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
    router.service(SecretService, secretService(deps));
    router.service(SigningService, signingService(deps));
  };
  const handler = connectNodeAdapter({
    routes,
    interceptors: [metricsInterceptor(), errorInterceptor(log), authInterceptor(pool, log)],
    readMaxBytes: config.readMaxBytes,
    // A misspelt field is an error rather than silently dropped (Connect JSON; binary is unaffected).
    jsonOptions: { ignoreUnknownFields: false },
    fallback: withUi(await prepareUi(options.ui ?? {}, log), probes(pool)),
  });
  const http1 = createHttp1Server(handler);
  const http2 = createHttp2Server(handler);
  const sockets = new Set<Socket>();
  const sessions = new Set<Http2Session>();
  http2.on('session', (session: Http2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.once('readable', function sniff() {
      const chunk = socket.read() as Buffer | null;
      if (chunk === null) return void socket.once('readable', sniff);
      socket.unshift(chunk);
      (chunk.subarray(0, 4).toString('latin1') === 'PRI ' ? http2 : http1).emit('connection', socket);
    });
    socket.on('error', (error) => log.debug('connection error', { error: error.message }));
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
        // The ended watches write their last frames; then connections close as they go idle, and
        // whatever is still open after a grace period is cut.
        for (const session of sessions) session.close();
        const deadline = Date.now() + 1_000;
        while (sockets.size > 0 && Date.now() < deadline) {
          http1.closeIdleConnections();
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        for (const session of sessions) session.destroy();
        for (const socket of sockets) socket.destroy();
        await stopped;
      })();
      return closing;
    },
  };
}
