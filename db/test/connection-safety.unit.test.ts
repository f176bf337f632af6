import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import yb from '@yugabytedb/pg';
import { isTickwiseError } from '@tickwise/platform';
import { clientSafetyConfig, CONNECTION_SAFETY_DEFAULTS, connectionSafetyFromEnv, connectionSafetyOf, createPool, inTransaction, isConnectionError, startListener, withSafetyDefaults, type Listener, type ListenerStatus, type Pool } from '@tickwise/db';

describe('connection safety settings', () => {
  it('defaults to a 5 s connect timeout, a 10 s query timeout and keepalive after 5 s', () => {
    expect(connectionSafetyFromEnv({})).toEqual({ connectTimeoutMs: 5_000, queryTimeoutMs: 10_000, keepAliveMs: 5_000 });
    expect(connectionSafetyFromEnv({})).toEqual(CONNECTION_SAFETY_DEFAULTS);
  });

  it('reads TICKWISE_DB_CONNECT_TIMEOUT, TICKWISE_DB_QUERY_TIMEOUT and TICKWISE_DB_KEEPALIVE as durations', () => {
    expect(connectionSafetyFromEnv({ TICKWISE_DB_CONNECT_TIMEOUT: '2s', TICKWISE_DB_QUERY_TIMEOUT: '1m', TICKWISE_DB_KEEPALIVE: '3s' })).toEqual({ connectTimeoutMs: 2_000, queryTimeoutMs: 60_000, keepAliveMs: 3_000 });
    expect(connectionSafetyFromEnv({ TICKWISE_DB_QUERY_TIMEOUT: '0s', TICKWISE_DB_CONNECT_TIMEOUT: '0s' })).toMatchObject({ queryTimeoutMs: 0, connectTimeoutMs: 0 });
  });

  it.each([
    [{ TICKWISE_DB_QUERY_TIMEOUT: '10' }, 'TICKWISE_DB_QUERY_TIMEOUT must be a duration such as 5s, 10s or 1m (0s: no timeout), got "10"'],
    [{ TICKWISE_DB_QUERY_TIMEOUT: '2h' }, 'TICKWISE_DB_QUERY_TIMEOUT must be from 0ms to 1h, got "2h"'],
    [{ TICKWISE_DB_CONNECT_TIMEOUT: 'soon' }, 'TICKWISE_DB_CONNECT_TIMEOUT must be a duration such as 2s, 5s or 30s (0s: no timeout), got "soon"'],
    [{ TICKWISE_DB_KEEPALIVE: '500ms' }, 'TICKWISE_DB_KEEPALIVE must be from 1s to 2h, got "500ms"'],
  ])('refuses %o, naming the variable', (env, message) => {
    let thrown: unknown;
    try {
      connectionSafetyFromEnv(env);
    } catch (error) {
      thrown = error;
    }
    expect(isTickwiseError(thrown, 'invalid_config')).toBe(true);
    expect((thrown as Error).message).toBe(message);
  });

  it('turns into the pg client settings: keepalive always, no query_timeout key when it is 0', () => {
    expect(clientSafetyConfig({ connectTimeoutMs: 2_000, queryTimeoutMs: 3_000, keepAliveMs: 4_000 })).toEqual({ connectionTimeoutMillis: 2_000, query_timeout: 3_000, keepAlive: true, keepAliveInitialDelayMillis: 4_000 });
    expect(clientSafetyConfig({ queryTimeoutMs: 0 })).toEqual({ connectionTimeoutMillis: 5_000, keepAlive: true, keepAliveInitialDelayMillis: 5_000 });
    expect(withSafetyDefaults({ queryTimeoutMs: undefined, keepAliveMs: 1_000 })).toEqual({ ...CONNECTION_SAFETY_DEFAULTS, keepAliveMs: 1_000 });
  });

  it('is on every pool, which remembers it for the LISTEN connection beside it', async () => {
    const pool = createPool({ connectionString: 'postgres://nobody@127.0.0.1:1/none', queryTimeoutMs: 1_234 });
    expect((pool as unknown as { options: Record<string, unknown> }).options).toMatchObject({ connectionTimeoutMillis: 5_000, query_timeout: 1_234, keepAlive: true, keepAliveInitialDelayMillis: 5_000 });
    expect(connectionSafetyOf(pool)).toEqual({ ...CONNECTION_SAFETY_DEFAULTS, queryTimeoutMs: 1_234 });
    await pool.end();
  });
});

describe('isConnectionError', () => {
  it.each(['Query read timeout', 'timeout exceeded when trying to connect', 'Connection terminated due to connection timeout', 'timeout expired'])('counts "%s" as the connection going away', (message) => {
    expect(isConnectionError(new Error(message))).toBe(true);
  });

  it.each(['EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', '08006', '25P03', '57P05'])('counts code %s', (code) => {
    expect(isConnectionError(Object.assign(new Error('x'), { code }))).toBe(true);
  });

  it('does not count a bad statement or a conflict', () => {
    expect(isConnectionError(Object.assign(new Error('syntax error'), { code: '42601' }))).toBe(false);
    expect(isConnectionError(Object.assign(new Error('could not serialize'), { code: '40001' }))).toBe(false);
  });
});

/**
 * A server that speaks just enough of the PostgreSQL protocol to log a client in (AuthenticationOk,
 * ReadyForQuery) and then never answers again: a database behind a silent partition, as the client
 * sees it. With `login: false` it does not even answer the startup message.
 */
async function silentServer(options: { login: boolean }): Promise<{ url: string; sockets: Socket[]; closed: () => number; close: () => Promise<void> }> {
  const sockets: Socket[] = [];
  let closed = 0;
  const server: Server = createServer((socket) => {
    sockets.push(socket);
    socket.on('close', () => closed++);
    socket.on('error', () => undefined);
    socket.once('data', () => {
      if (!options.login) return;
      const ok = Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0]); // 'R' AuthenticationOk
      const ready = Buffer.from([0x5a, 0, 0, 0, 5, 0x49]); // 'Z' ReadyForQuery, idle
      socket.write(Buffer.concat([ok, ready]));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as { port: number };
  return {
    url: `postgres://tickwise@127.0.0.1:${port}/tickwise`,
    sockets,
    closed: () => closed,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('a database that stops answering', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function withServer(login: boolean) {
    const server = await silentServer({ login });
    cleanups.push(() => server.close());
    return server;
  }

  function pool(url: string, PoolClass?: typeof import('pg').Pool): Pool {
    const made = createPool({ connectionString: url, max: 2, queryTimeoutMs: 300, connectTimeoutMs: 300 }, PoolClass);
    cleanups.push(() => made.end().catch(() => undefined));
    return made;
  }

  it.each([
    ['pg', undefined],
    ['@yugabytedb/pg', yb.Pool as unknown as typeof import('pg').Pool],
  ])('%s: a query without an answer fails as a connection error after the query timeout, and its connection is destroyed', async (_driver, PoolClass) => {
    const server = await withServer(true);
    const db = pool(server.url, PoolClass);
    const started = performance.now();
    const error = await db.query('SELECT 1').catch((caught: Error) => caught);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe('Query read timeout');
    expect(isConnectionError(error)).toBe(true);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(performance.now() - started).toBeLessThan(3_000);
    // Not handed out again: the pool dropped the client and the socket is gone.
    await expect.poll(() => server.closed()).toBe(1);
    expect(db.totalCount).toBe(0);
  });

  it('a connection whose login gets no answer fails after the connect timeout', async () => {
    const server = await withServer(false);
    const db = pool(server.url);
    const started = performance.now();
    const error = await db.query('SELECT 1').catch((caught: Error) => caught);
    expect(isConnectionError(error)).toBe(true);
    expect(performance.now() - started).toBeLessThan(3_000);
    await expect.poll(() => server.closed()).toBe(1);
  });

  it('a transaction whose statement gets no answer fails, and its client is destroyed rather than returned', async () => {
    const server = await withServer(true);
    const db = pool(server.url);
    const error = await inTransaction(db, (client) => client.query('SELECT 1')).catch((caught: Error) => caught);
    expect(isConnectionError(error)).toBe(true);
    await expect.poll(() => server.closed()).toBe(1);
    expect(db.totalCount).toBe(0);
  });

  it('the LISTEN connection gives up on a LISTEN without an answer and reconnects', async () => {
    const server = await withServer(true);
    const statuses: { status: ListenerStatus; error?: string }[] = [];
    const listener: Listener = startListener({
      connectionString: server.url,
      channels: ['tickwise_wake'],
      onNotify: () => undefined,
      onStatus: (status, error) => statuses.push({ status, error: error?.message }),
      maxBackoffMs: 100,
      safety: { queryTimeoutMs: 300, connectTimeoutMs: 300 },
    });
    cleanups.push(() => listener.close());
    await expect.poll(() => server.sockets.length, { timeout: 5_000 }).toBeGreaterThanOrEqual(2);
    expect(statuses).toContainEqual({ status: 'reconnecting', error: 'Query read timeout' });
    expect(server.closed()).toBeGreaterThanOrEqual(1);
  });
});
