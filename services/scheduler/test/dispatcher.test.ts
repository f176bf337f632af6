/** The dispatcher's own failure paths against a real HTTP server: shutdown, deadline, bad and denied URLs. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTargetPolicy } from '@tickwise/platform';
import { Dispatcher } from '../src/dispatcher.ts';
import { TEST_TARGET_POLICY } from '../../../test/support/targets.ts';

let server: Server;
let base: string;
let connections = 0;
const never = new AbortController().signal;

beforeAll(async () => {
  // /slow answers after 5 s; anything else at once.
  server = createServer((request, response) => {
    if (request.url === '/slow') setTimeout(() => response.end('late'), 5_000).unref();
    else response.end('ok');
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const get = (url: string, timeoutMs = 10_000) => ({ url, method: 'GET' as const, headers: {}, timeoutMs });

describe('Dispatcher', () => {
  it('aborts every call in flight when the shutdown signal fires, and refuses calls made after it', async () => {
    const dispatcher = new Dispatcher({ policy: TEST_TARGET_POLICY });
    const shutdown = new AbortController();
    const calls = [1, 2, 3].map(() => dispatcher.call(get(`${base}/slow`), shutdown.signal));
    const quick = await dispatcher.call(get(`${base}/quick`), shutdown.signal);
    setTimeout(() => shutdown.abort(), 100);
    const outcomes = await Promise.all(calls);
    expect(quick).toMatchObject({ status: 'succeeded', httpStatus: 200 });
    for (const outcome of outcomes) expect(outcome).toMatchObject({ status: 'failed', errorKind: 'aborted', errorMessage: 'aborted: the scheduler node is shutting down' });
    expect(await dispatcher.call(get(`${base}/quick`), shutdown.signal)).toMatchObject({ errorKind: 'aborted' });
    // Another signal is its own: calls under it go on.
    expect(await dispatcher.call(get(`${base}/quick`), never)).toMatchObject({ status: 'succeeded' });
    await dispatcher.close();
  });

  it('gives up at the deadline, headers and body counted together', async () => {
    const dispatcher = new Dispatcher({ policy: TEST_TARGET_POLICY });
    const outcome = await dispatcher.call(get(`${base}/slow`, 200), never);
    expect(outcome).toMatchObject({ status: 'failed', errorKind: 'timeout', errorMessage: 'no complete response within 200ms' });
    expect(outcome.durationMs).toBeGreaterThanOrEqual(199);
    await dispatcher.close();
  });

  it('sends nothing, and opens no connection, when the deadline or shutdown comes while the signing secrets load', async () => {
    // Secrets that take 300 ms to load, as from a slow database.
    const secrets = { secretsFor: () => new Promise<readonly Buffer[]>((resolve) => setTimeout(() => resolve([Buffer.alloc(32, 7)]), 300)) };
    const signed = (timeoutMs: number) => ({ ...get(`${base}/quick`, timeoutMs), sign: { endpointId: 'e', tenantId: null, webhookId: 'w' } });
    const dispatcher = new Dispatcher({ policy: TEST_TARGET_POLICY, secrets });
    const before = connections;
    expect(await dispatcher.call(signed(100), never)).toMatchObject({ status: 'failed', errorKind: 'timeout', errorMessage: 'not sent: no complete response within 100ms' });
    const shutdown = new AbortController();
    const call = dispatcher.call(signed(10_000), shutdown.signal);
    setTimeout(() => shutdown.abort(), 50);
    expect(await call).toMatchObject({ status: 'failed', errorKind: 'aborted', errorMessage: 'not sent: aborted: the scheduler node is shutting down' });
    expect(connections).toBe(before);
    // Loaded in time, the same call is made (signed).
    expect(await dispatcher.call(signed(10_000), never)).toMatchObject({ status: 'succeeded', httpStatus: 200 });
    expect(connections).toBe(before + 1);
    await dispatcher.close();
  });

  it('names a URL it cannot call, each time it is asked', async () => {
    const dispatcher = new Dispatcher({ policy: TEST_TARGET_POLICY });
    for (let i = 0; i < 2; i++) {
      expect(await dispatcher.call(get('http://exa mple.com/'), never)).toMatchObject({ errorKind: 'invalid_url', errorMessage: expect.stringContaining('invalid URL "http://exa mple.com/"') });
      expect(await dispatcher.call(get('ftp://example.com/x'), never)).toMatchObject({ errorKind: 'invalid_url', errorMessage: 'invalid URL "ftp://example.com/x": unsupported protocol ftp:' });
    }
    await dispatcher.close();
  });

  it('refuses a denied target on every call, and still calls the allowed one', async () => {
    const dispatcher = new Dispatcher({ policy: parseTargetPolicy({ allowPrivate: true, deny: '127.0.0.2' }) });
    for (let i = 0; i < 2; i++) {
      expect(await dispatcher.call(get('http://127.0.0.2:1/x'), never)).toMatchObject({ errorKind: 'target_denied', errorMessage: expect.stringContaining('127.0.0.2') });
      expect(await dispatcher.call(get(`${base}/ok`), never)).toMatchObject({ status: 'succeeded' });
    }
    await dispatcher.close();
  });
});
