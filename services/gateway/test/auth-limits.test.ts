import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { ClientSessionOptions } from 'node:http2';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import type { Pool } from '@tickwise/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobService } from '@tickwise/api';
import { generateApiKey, resolveGatewayConfig, startGateway, type Gateway } from '../src/index.ts';
import { bearer, createTenant, type Tenant } from '../../../test/support/gateway.ts';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database.ts';
import { memoryLogger } from '../../../test/support/logger.ts';
import { sleep } from '../../../test/support/wait.ts';

const BURST = 5;
const PER_MINUTE = 30; // one more failure every 2 s: slow enough that a busy machine's pauses do not refill the bucket mid-test
const NEGATIVE_CACHE_MS = 1_000;

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: { code?: string; message?: string };
}

/** A Connect JSON call from `from` (a loopback address: each test's clients get their own). */
function listJobs(gateway: Gateway, key: string, from: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const call = httpRequest(
      `${gateway.url}/tickwise.v1.JobService/ListJobs`,
      { method: 'POST', localAddress: from, agent: false, headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, connection: 'close' } },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body: JSON.parse(text) as Answer['body'] }));
      },
    );
    call.on('error', reject);
    call.end('{}');
  });
}

/** Counts the key lookups (`apiKeyByPrefix`) the gateway makes, by wrapping the pool it is given. */
function countingLookups(pool: Pool): { pool: Pool; lookups: () => number } {
  let lookups = 0;
  const wrapped = new Proxy(pool, {
    get(target, property) {
      if (property === 'query') {
        return (...args: unknown[]) => {
          const text = typeof args[0] === 'string' ? args[0] : ((args[0] as { text?: string } | undefined)?.text ?? '');
          if (text.includes('FROM api_keys WHERE prefix')) lookups++;
          return (target.query as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { pool: wrapped, lookups: () => lookups };
}

describe('failed authentication: a short negative cache, and a rate limit per client address', () => {
  let db: TestDatabase;
  let gateway: Gateway;
  let a: Tenant;
  let lookups: () => number;
  const wrong = () => generateApiKey().key;
  /** Fails from `from` until it is answered 429: the bucket is empty now, whatever time passed before. */
  const exhaust = async (from: string) => {
    for (let i = 0; i <= BURST; i++) if ((await listJobs(gateway, wrong(), from)).status === 429) return;
    throw new Error(`${from} was never answered 429`);
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    a = await createTenant(db.pool, 'tenant-a');
    const counted = countingLookups(db.pool);
    lookups = counted.lookups;
    gateway = await startGateway({
      pool: counted.pool,
      connectionString: db.url,
      config: resolveGatewayConfig({ host: '127.0.0.1', port: 0, authFailureBurst: BURST, authFailuresPerMinute: PER_MINUTE, authNegativeCacheMs: NEGATIVE_CACHE_MS }),
      log: memoryLogger(),
    });
  });
  afterAll(async () => {
    await gateway?.close();
    await db?.drop();
  });

  it('looks a refused key up once while it is cached, and again once the cache expired', async () => {
    const from = '127.0.0.2';
    const unknown = wrong();
    const good = a.keys.read;
    const wrongSecret = `${good.slice(0, 16)}${good[16] === 'A' ? 'B' : 'A'}${good.slice(17)}`;
    for (const key of [unknown, wrongSecret]) {
      const before = lookups();
      for (let i = 0; i < 2; i++) {
        const answer = await listJobs(gateway, key, from);
        expect(answer.status).toBe(401);
        expect(answer.body).toEqual({ code: 'unauthenticated', message: 'invalid or revoked API key' });
      }
      expect(lookups() - before).toBe(1);
    }
    // The real key behind the wrong secret is not affected by the cache.
    expect((await listJobs(gateway, good, from)).status).toBe(200);
    await sleep(NEGATIVE_CACHE_MS + 200);
    const before = lookups();
    expect((await listJobs(gateway, unknown, from)).status).toBe(401);
    expect(lookups() - before).toBe(1);
  });

  it('answers a flood of wrong keys 429 with Retry-After, costing no lookups, while good keys still work', async () => {
    const flooder = '127.0.0.3';
    // A key that worked from this address before the flood keeps working during it.
    expect((await listJobs(gateway, a.keys.read, flooder)).status).toBe(200);
    const before = lookups();
    const started = performance.now();
    const answers: Answer[] = [];
    for (let i = 0; i < 30; i++) answers.push(await listJobs(gateway, wrong(), flooder));
    const refilled = Math.ceil((performance.now() - started) / (60_000 / PER_MINUTE));
    const refused = answers.filter((answer) => answer.status === 401).length;
    const limited = answers.filter((answer) => answer.status === 429);
    expect(refused + limited.length).toBe(30);
    expect(refused).toBeGreaterThanOrEqual(BURST);
    expect(refused).toBeLessThanOrEqual(BURST + refilled);
    expect(lookups() - before).toBe(refused);
    expect(limited[0]!.body).toEqual({ code: 'resource_exhausted', message: expect.stringMatching(/^too many failed authentications from this address; try again in \d+s$/) });
    expect(Number(limited[0]!.headers['retry-after'])).toBeGreaterThanOrEqual(1);

    expect((await listJobs(gateway, a.keys.read, flooder)).status).toBe(200);
    // A key this gateway has not seen work yet waits like the flood, from that address only.
    await exhaust(flooder);
    expect((await listJobs(gateway, a.keys.write, flooder)).status).toBe(429);
    expect((await listJobs(gateway, a.keys.write, '127.0.0.4')).status).toBe(200);
    expect((await listJobs(gateway, wrong(), '127.0.0.4')).status).toBe(401);

    // Over gRPC it is RESOURCE_EXHAUSTED.
    await exhaust(flooder);
    const grpc = createClient(JobService, createGrpcTransport({ baseUrl: gateway.url, nodeOptions: { localAddress: flooder } as ClientSessionOptions, interceptors: [bearer(wrong())] }));
    const error = await grpc.listJobs({}).catch((caught: unknown) => ConnectError.from(caught));
    expect((error as ConnectError).code).toBe(Code.ResourceExhausted);

    // The bucket refills: one more failure is looked up (and refused) after a while.
    await sleep(2 * (60_000 / PER_MINUTE));
    expect((await listJobs(gateway, wrong(), flooder)).status).toBe(401);
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(metrics).toMatch(/^tickwise_gateway_auth_refused_total\{reason="rate_limited"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^tickwise_gateway_auth_refused_total\{reason="cached"\} [1-9]\d*$/m);
  });

  it('holds a flood sent all at once to the same few lookups', async () => {
    const before = lookups();
    const answers = await Promise.all(Array.from({ length: 40 }, () => listJobs(gateway, wrong(), '127.0.0.5')));
    const refused = answers.filter((answer) => answer.status === 401).length;
    expect(refused + answers.filter((answer) => answer.status === 429).length).toBe(40);
    // Each call takes its token before the lookup: calls in flight together cannot all pass.
    expect(lookups() - before).toBe(refused);
    expect(refused).toBeLessThanOrEqual(BURST + 2);
  });
});
