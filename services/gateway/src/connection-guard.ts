import type { Server as Http1Server } from 'node:http';
import { constants as h2, type Http2Server, type Http2Session, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import type { Logger } from '@tickwise/platform';
import { gatewayMetrics } from './metrics.ts';

export type TimeoutPhase = 'headers' | 'request' | 'idle';

export interface ConnectionTimeouts {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  idleTimeoutMs: number;
}

/** One connection: its single deadline (headers, then idle between calls) and the calls in progress. */
interface Guarded {
  socket: Socket;
  timer: NodeJS.Timeout | undefined;
  inFlight: number;
  /** How an expired connection is closed: the raw socket at first, a GOAWAY once HTTP/2 owns it. */
  close: () => void;
}

/** What a late HTTP/2 session is given, after its GOAWAY, before its socket is cut. */
const GOAWAY_GRACE_MS = 1_000;

/**
 * The timeouts of every connection on the gateway port. Node's own HTTP/1.1 `headersTimeout` and
 * `requestTimeout` are enforced by a checker that starts only when that server itself listens; the
 * gateway's HTTP servers never listen (a raw TCP server sniffs each connection and hands it over),
 * so they never applied, and the sniffing socket had none at all. So the deadlines are kept here,
 * one timer per connection and one per request, the same for both protocols:
 *
 * - headers: from accept until the first request's headers are in (HTTP/2: its first stream opens);
 *   covers a socket that never sends a byte and headers dribbled a byte at a time.
 * - request: from a request's headers until its body is in. A call's response may take as long as
 *   it takes: a Watch sends its whole request at once, then streams for hours.
 * - idle: a connection with no call in progress (HTTP/1.1 between requests, the next one's headers
 *   included; HTTP/2 with no open stream). A call in progress, such as a Watch, is never idle.
 *
 * The deadlines are absolute, not inactivity timers, so bytes trickling in do not push them back.
 */
export class ConnectionGuard {
  private readonly guarded = new WeakMap<Socket, Guarded>();
  /** The socket being handed to the HTTP/2 server, whose 'session' event comes synchronously. */
  private handing: Socket | undefined;
  private readonly open = new Set<Socket>();

  constructor(
    private readonly http1: Http1Server,
    private readonly http2: Http2Server,
    private readonly timeouts: ConnectionTimeouts,
    private readonly log: Logger,
  ) {
    // Node's own keep-alive timer stays (it sends the `Keep-Alive: timeout=` hint clients use), but
    // as an inactivity timer; the absolute idle deadline below is the one that counts.
    http1.keepAliveTimeout = timeouts.idleTimeoutMs;
    http1.on('timeout', (socket: Socket) => this.expire(socket, 'idle'));
    http1.on('request', (request, response) => {
      const socket = request.socket;
      const guarded = this.guarded.get(socket);
      if (!guarded) return;
      this.begin(guarded);
      const timer = setTimeout(() => {
        if (request.complete || socket.destroyed) return;
        this.count('request', { protocol: 'http/1.1', path: request.url });
        socket.destroy();
      }, timeouts.requestTimeoutMs).unref();
      response.once('close', () => {
        clearTimeout(timer);
        this.end(guarded, socket.destroyed);
      });
    });
    http2.on('session', (session: Http2Session) => {
      const socket = this.handing;
      const guarded = socket && this.guarded.get(socket);
      if (!socket || !guarded) return;
      let closing = false;
      guarded.close = () => {
        if (closing) return;
        closing = true;
        session.close();
        setTimeout(() => socket.destroy(), GOAWAY_GRACE_MS).unref();
      };
      session.on('stream', (stream: ServerHttp2Stream) => {
        this.begin(guarded);
        const timer = setTimeout(() => {
          // remoteClose: the client ended its side (END_STREAM), so the whole request is in.
          if (stream.destroyed || stream.state.remoteClose) return;
          this.count('request', { protocol: 'h2' });
          stream.close(h2.NGHTTP2_CANCEL);
        }, timeouts.requestTimeoutMs).unref();
        stream.once('close', () => {
          clearTimeout(timer);
          this.end(guarded, session.closed || session.destroyed);
        });
      });
    });
  }

  /** A connection was accepted: its headers deadline starts. */
  accept(socket: Socket): void {
    const guarded: Guarded = { socket, timer: undefined, inFlight: 0, close: () => socket.destroy() };
    this.guarded.set(socket, guarded);
    this.open.add(socket);
    gatewayMetrics.connections.inc();
    this.arm(guarded, 'headers', this.timeouts.headersTimeoutMs);
    socket.once('close', () => {
      clearTimeout(guarded.timer);
      this.open.delete(socket);
      gatewayMetrics.connections.dec();
    });
  }

  /** Gives the socket to the HTTP/2 or the HTTP/1.1 server; its deadline carries on. */
  handOff(socket: Socket, http2: boolean): void {
    if (!http2) return void this.http1.emit('connection', socket);
    this.handing = socket;
    try {
      this.http2.emit('connection', socket);
    } finally {
      this.handing = undefined;
    }
  }

  /** Closes every connection with no call in progress (shutting down); returns how many are left. */
  closeIdle(): number {
    for (const socket of this.open) {
      const guarded = this.guarded.get(socket);
      if (guarded && guarded.inFlight === 0) guarded.close();
    }
    return this.open.size;
  }

  /** Cuts every connection left (the end of a shutdown's grace). */
  destroyAll(): void {
    for (const socket of this.open) socket.destroy();
  }

  private begin(guarded: Guarded): void {
    guarded.inFlight++;
    clearTimeout(guarded.timer);
    guarded.timer = undefined;
  }

  private end(guarded: Guarded, gone: boolean): void {
    guarded.inFlight--;
    if (guarded.inFlight === 0 && !gone && !guarded.socket.destroyed) this.arm(guarded, 'idle', this.timeouts.idleTimeoutMs);
  }

  private arm(guarded: Guarded, phase: TimeoutPhase, ms: number): void {
    clearTimeout(guarded.timer);
    guarded.timer = setTimeout(() => this.expire(guarded.socket, phase), ms).unref();
  }

  private expire(socket: Socket, phase: TimeoutPhase): void {
    const guarded = this.guarded.get(socket);
    if (socket.destroyed || !guarded) return;
    guarded.timer = undefined;
    if (guarded.inFlight > 0) return;
    this.count(phase, {});
    guarded.close();
  }

  private count(phase: TimeoutPhase, fields: Record<string, unknown>): void {
    gatewayMetrics.timeouts.labels(phase).inc();
    // Idle closes are routine; the others are a slow or hostile client worth a line.
    if (phase !== 'idle') this.log.debug('connection timed out', { phase, ...fields });
  }
}
