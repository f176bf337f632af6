import { get as httpGet } from 'node:http';
import { connect as http2Connect, constants as h2, type ClientHttp2Session, type Settings } from 'node:http2';
import { connect as netConnect, type Socket } from 'node:net';
import { Code, ConnectError } from '@connectrpc/connect';
import { afterAll, describe, expect, it } from 'vitest';
import { JobService, WatchService } from '@tickwise/api';
import { resolveGatewayConfig, startGateway, type Gateway } from '../src/index.ts';
import { internalErrors, useGateway, type Protocol } from '../../../test/support/gateway.ts';
import { memoryLogger } from '../../../test/support/logger.ts';
import { sleep, waitFor } from '../../../test/support/wait.ts';

// Short timeouts so each case takes a second or two. The machine running the tests may be busy:
// a connection must close no sooner than its timeout and at most SLACK_MS after it.
const HEADERS_MS = 800;
const REQUEST_MS = 1_200;
const IDLE_MS = 1_000;
const SLACK_MS = 4_000;

interface Opened {
  socket: Socket;
  /** Milliseconds from connecting to the socket's close. */
  closed: Promise<number>;
}

function open(port: number): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = netConnect(port, '127.0.0.1');
    const closed = new Promise<number>((done) => socket.once('close', () => done(performance.now() - started)));
    socket.on('error', () => {});
    socket.resume();
    socket.once('connect', () => resolve({ socket, closed }));
    socket.once('error', reject);
  });
}

/** Writes `text` one byte every `everyMs` (never finishing when it is long enough), until the socket closes. */
function dribble(socket: Socket, text: string, everyMs = 100): void {
  let at = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || at >= text.length) return clearInterval(timer);
    socket.write(text[at++]!);
  }, everyMs);
  socket.once('close', () => clearInterval(timer));
}

/** The time to close, or a failure naming what stayed open. */
async function closesWithin(opened: { closed: Promise<number> }, ms: number, what: string): Promise<number> {
  const elapsed = await Promise.race([opened.closed, sleep(ms).then(() => null)]);
  if (elapsed === null) throw new Error(`${what} was still open after ${ms} ms`);
  return elapsed;
}

function h2Session(url: string): { session: ClientHttp2Session; settings: Promise<Settings>; closed: Promise<number> } {
  const started = performance.now();
  const session = http2Connect(url);
  session.on('error', () => {});
  return {
    session,
    settings: new Promise((resolve) => session.once('remoteSettings', resolve)),
    closed: new Promise((resolve) => session.once('close', () => resolve(performance.now() - started))),
  };
}

/** A series of /metrics, read over a connection of its own that closes after (fetch would keep one open). */
function metricValue(gateway: Gateway, series: string): Promise<number> {
  return new Promise((resolve, reject) => {
    httpGet(`${gateway.url}/metrics`, { agent: false, headers: { connection: 'close' } }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => {
        const line = text.split('\n').find((each) => each.startsWith(`${series} `));
        resolve(line ? Number(line.split(' ')[1]) : 0);
      });
    }).on('error', reject);
  });
}

describe('the gateway times out slow and idle connections', () => {
  const fx = useGateway({ headersTimeoutMs: HEADERS_MS, requestTimeoutMs: REQUEST_MS, idleTimeoutMs: IDLE_MS, heartbeatMs: 300 });

  it('closes a socket that never sends its first bytes after the headers timeout', async () => {
    const before = await metricValue(fx.gateway, 'tickwise_gateway_connection_timeouts_total{phase="headers"}');
    const silent = await open(fx.gateway.port);
    const elapsed = await closesWithin(silent, HEADERS_MS + SLACK_MS, 'a silent socket');
    expect(elapsed).toBeGreaterThanOrEqual(HEADERS_MS - 50);
    expect(await metricValue(fx.gateway, 'tickwise_gateway_connection_timeouts_total{phase="headers"}')).toBeGreaterThan(before);
  });

  it('cuts HTTP/1.1 headers dribbled a byte at a time, though bytes keep coming', async () => {
    const slow = await open(fx.gateway.port);
    dribble(slow.socket, `GET /healthz HTTP/1.1\r\nHost: gateway\r\nX-Slow: ${'a'.repeat(10_000)}`);
    const elapsed = await closesWithin(slow, HEADERS_MS + SLACK_MS, 'a socket dribbling its headers');
    expect(elapsed).toBeGreaterThanOrEqual(HEADERS_MS - 50);
  });

  it('cuts an HTTP/1.1 request body dribbled slowly, after the request timeout', async () => {
    const slow = await open(fx.gateway.port);
    const headersSent = performance.now();
    slow.socket.write(
      `POST /tickwise.v1.JobService/ListJobs HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\nAuthorization: Bearer ${fx.a.keys.read}\r\nContent-Length: 100000\r\n\r\n{`,
    );
    dribble(slow.socket, ' '.repeat(100_000));
    await closesWithin(slow, REQUEST_MS + HEADERS_MS + SLACK_MS, 'a socket dribbling its body');
    expect(performance.now() - headersSent).toBeGreaterThanOrEqual(REQUEST_MS - 50);
    expect(internalErrors(fx)).toEqual([]);
  });

  it('closes an HTTP/1.1 keep-alive connection left idle after its answer', async () => {
    const kept = await open(fx.gateway.port);
    let answered = 0;
    kept.socket.on('data', (chunk: Buffer) => {
      if (chunk.toString('latin1').startsWith('HTTP/1.1 200')) answered = performance.now();
    });
    kept.socket.write('GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n');
    await waitFor('the answer', () => answered > 0);
    await closesWithin(kept, IDLE_MS + SLACK_MS, 'an idle keep-alive connection');
    expect(performance.now() - answered).toBeGreaterThanOrEqual(IDLE_MS - 50);
  });

  it('closes an HTTP/2 connection that opens no stream, and one left idle after its streams', async () => {
    const silent = h2Session(fx.gateway.url);
    await closesWithin(silent, HEADERS_MS + SLACK_MS, 'an HTTP/2 session without streams');
    const idle = h2Session(fx.gateway.url);
    const status = await new Promise<number>((resolve, reject) => {
      const stream = idle.session.request({ ':path': '/healthz' });
      stream.on('response', (headers) => resolve(Number(headers[':status'])));
      stream.on('error', reject);
      stream.resume();
    });
    expect(status).toBe(200);
    const answered = performance.now();
    await closesWithin(idle, IDLE_MS + SLACK_MS, 'an idle HTTP/2 session');
    expect(performance.now() - answered).toBeGreaterThanOrEqual(IDLE_MS - 50);
  });

  it('resets an HTTP/2 stream whose request body never completes', async () => {
    const { session } = h2Session(fx.gateway.url);
    try {
      const started = performance.now();
      const stream = session.request(
        { ':method': 'POST', ':path': '/tickwise.v1.JobService/ListJobs', 'content-type': 'application/json', authorization: `Bearer ${fx.a.keys.read}` },
        { endStream: false },
      );
      stream.on('error', () => {});
      stream.resume();
      stream.write('{');
      const timer = setInterval(() => stream.write(' '), 100);
      const ended = new Promise<number>((resolve) => stream.once('close', () => resolve(performance.now() - started)));
      try {
        const elapsed = await closesWithin({ closed: ended }, REQUEST_MS + SLACK_MS, 'an HTTP/2 stream dribbling its body');
        expect(elapsed).toBeGreaterThanOrEqual(REQUEST_MS - 50);
        expect(stream.rstCode).toBe(h2.NGHTTP2_CANCEL);
      } finally {
        clearInterval(timer);
      }
    } finally {
      session.destroy();
    }
  });

  it('advertises a bounded number of concurrent HTTP/2 streams', async () => {
    const { session, settings } = h2Session(fx.gateway.url);
    try {
      expect(await settings).toMatchObject({ maxConcurrentStreams: 100, maxHeaderListSize: 16 * 1024 });
    } finally {
      session.destroy();
    }
  });

  it('never cuts a healthy Watch: it outlives every timeout, on HTTP/2 and HTTP/1.1', async () => {
    const outcomes = (['grpc', 'connect'] as Protocol[]).map((protocol) => {
      const controller = new AbortController();
      const seen = { heartbeats: 0, error: undefined as ConnectError | undefined };
      const done = (async () => {
        try {
          for await (const message of fx.client(WatchService, fx.a.keys.read, protocol).watch({}, { signal: controller.signal })) if (message.event.case === 'heartbeat') seen.heartbeats++;
        } catch (error) {
          const connect = ConnectError.from(error);
          if (connect.code !== Code.Canceled) seen.error = connect;
        }
      })();
      return { protocol, controller, seen, done };
    });
    await waitFor('both watches live', () => outcomes.every((each) => each.seen.heartbeats > 0));
    await sleep(3 * Math.max(HEADERS_MS, REQUEST_MS, IDLE_MS));
    for (const each of outcomes) {
      expect(each.seen.error, each.protocol).toBeUndefined();
      const heartbeats = each.seen.heartbeats;
      await waitFor(`another heartbeat on ${each.protocol}`, () => each.seen.heartbeats > heartbeats);
      each.controller.abort();
      await each.done;
    }
    // The connections are still usable for calls afterwards.
    expect((await fx.client(JobService, fx.a.keys.read, 'grpc').listJobs({})).jobs).toEqual([]);
  });
});

describe('the gateway caps its connections', () => {
  const fx = useGateway();
  let capped: Gateway | undefined;
  afterAll(() => capped?.close());

  it('refuses connections past the cap at once, counts them, and takes new ones when room frees', async () => {
    capped = await startGateway({
      pool: fx.db.pool,
      connectionString: fx.db.url,
      config: resolveGatewayConfig({ host: '127.0.0.1', port: 0, maxConnections: 3, headersTimeoutMs: 60_000 }),
      log: memoryLogger(),
    });
    const before = await metricValue(capped, 'tickwise_gateway_connections_refused_total');
    await sleep(200);
    const held = [await open(capped.port), await open(capped.port), await open(capped.port)];
    await sleep(100);
    const extra = await open(capped.port);
    // Closed at once, far before any timeout.
    await closesWithin(extra, 2_000, 'a connection past the cap');
    for (const each of held) expect(each.socket.destroyed).toBe(false);
    held[0]!.socket.destroy();
    await held[0]!.closed;
    // Room again: the next connection is served (and /metrics counted the refusal).
    await waitFor('a connection served again', async () => (await metricValue(capped!, 'tickwise_gateway_connections_refused_total')) >= before + 1);
    for (const each of held.slice(1)) each.socket.destroy();
  });
});
