import { Code, ConnectError, type Interceptor, type StreamResponse } from '@connectrpc/connect';
import { codeToString } from '@connectrpc/connect/protocol-connect';
import { metric } from '@tickwise/platform';
import { Counter, Gauge, Histogram } from 'prom-client';

/**
 * The gateway's Prometheus metrics, on the process's one registry (see the platform's `metric`):
 * `/metrics` serves that registry, so in `tickwise dev` it also holds the scheduler's and the
 * planner's metrics. docs/operations.md lists them.
 */
export const gatewayMetrics = {
  requests: metric('tickwise_gateway_requests_total', (name) => new Counter({ name, help: 'API calls finished, by procedure and code (ok, or the gRPC/Connect error code: unauthenticated, invalid_argument, ...)', labelNames: ['procedure', 'code'] })),
  duration: metric('tickwise_gateway_request_duration_seconds', (name) => new Histogram({ name, help: 'API call duration, by procedure and code (a Watch: how long its stream stayed open)', labelNames: ['procedure', 'code'], buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] })),
  watches: metric('tickwise_gateway_open_watches', (name) => new Gauge({ name, help: 'Watch streams open' })),
  connections: metric('tickwise_gateway_open_connections', (name) => new Gauge({ name, help: 'TCP connections open on the gateway port' })),
  refused: metric('tickwise_gateway_connections_refused_total', (name) => new Counter({ name, help: 'Connections closed as soon as accepted: TICKWISE_GATEWAY_MAX_CONNECTIONS were open' })),
  timeouts: metric('tickwise_gateway_connection_timeouts_total', (name) => new Counter({ name, help: 'Connections closed (HTTP/2: streams reset) for a timeout, by phase: headers, request (body), idle', labelNames: ['phase'] })),
  auditFailures: metric('tickwise_gateway_audit_failures_total', (name) => new Counter({ name, help: 'Changes made through the API whose audit event could not be recorded (each is logged at error level with the event)' })),
  authRefused: metric('tickwise_gateway_auth_refused_total', (name) => new Counter({ name, help: 'Calls refused by authentication, by reason: malformed (no lookup), invalid (looked up), cached (a refused key, answered from memory), rate_limited (429)', labelNames: ['reason'] })),
};

/** The code label of a call that failed: Connect's name for it (`unauthenticated`, `not_found`, ...). Pure. */
export function codeLabel(error: unknown): string {
  return codeToString(error instanceof ConnectError ? error.code : Code.Unknown);
}

/**
 * Counts and times every call, by procedure and code; outermost, so it sees the code the caller
 * gets. A stream is counted when it ends, and is an open watch meanwhile.
 */
export function metricsInterceptor(): Interceptor {
  const record = (procedure: string, code: string, started: number) => {
    gatewayMetrics.requests.labels(procedure, code).inc();
    gatewayMetrics.duration.labels(procedure, code).observe((performance.now() - started) / 1_000);
  };
  return (next) => async (request) => {
    const procedure = `${request.service.typeName}/${request.method.name}`;
    const started = performance.now();
    let response;
    try {
      response = await next(request);
    } catch (error) {
      record(procedure, codeLabel(error), started);
      throw error;
    }
    if (!response.stream) {
      record(procedure, 'ok', started);
      return response;
    }
    return { ...response, message: watched(response.message, request.signal, (code) => record(procedure, code, started)) } as StreamResponse;
  };
}

async function* watched<T>(messages: AsyncIterable<T>, signal: AbortSignal, done: (code: string) => void): AsyncIterable<T> {
  gatewayMetrics.watches.inc();
  let code: string | undefined;
  try {
    yield* messages;
  } catch (error) {
    code = codeLabel(error);
    throw error;
  } finally {
    gatewayMetrics.watches.dec();
    // A watch the caller left (or whose deadline passed) ends quietly on the server: its signal says why.
    done(code ?? (signal.aborted ? (signal.reason instanceof ConnectError ? codeLabel(signal.reason) : 'canceled') : 'ok'));
  }
}
