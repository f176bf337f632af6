import { create } from '@bufbuild/protobuf';
import { Code } from '@connectrpc/connect';
import { describe, expect, it } from 'vitest';
import { gatewayConfigFromEnv, generateApiKey, parseApiKey, resolveGatewayConfig, secretMatches, toConnectError } from '../src/index.ts';
import { BadRequestSchema, EndpointSpecSchema } from '@tickwise/api';
import { specMessage } from '@tickwise/api';
import { endpointInputOf } from '../src/spec.ts';
import { decodePageToken, encodePageToken, fieldPath } from '../src/validate.ts';
import { EventQueue } from '../src/watch-queue.ts';
import { AuthLimits, clientOf } from '../src/auth-limits.ts';
import { RetryLater } from '../src/errors.ts';
import type { Queryable } from '@tickwise/db';
import { toEndpointSpec } from '@tickwise/machines';
import { isUuid, silentLogger, TickwiseError } from '@tickwise/platform';

function invalid(run: () => unknown): TickwiseError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(TickwiseError);
    expect((error as TickwiseError).code).toBe('invalid_argument');
    return error as TickwiseError;
  }
  throw new Error('expected a TickwiseError');
}

describe('API keys', () => {
  it('are random, parse back, and match only their own secret', () => {
    const one = generateApiKey();
    const two = generateApiKey();
    expect(one.key).not.toBe(two.key);
    const parsed = parseApiKey(one.key)!;
    expect(parsed.prefix).toBe(one.prefix);
    expect(secretMatches(parsed.secret, one.secretSha256)).toBe(true);
    expect(secretMatches(parsed.secret, two.secretSha256)).toBe(false);
    expect(secretMatches(parsed.secret, 'short')).toBe(false);
    for (const bad of ['', 'tw_', `${one.key}x`, one.key.replace('tw_', 'tk_'), one.key.toUpperCase()]) expect(parseApiKey(bad)).toBeNull();
  });
});

describe('field paths and page tokens', () => {
  it('writes zod paths as proto field paths', () => {
    expect(fieldPath('', ['pageSize'])).toBe('page_size');
    expect(fieldPath('endpoints[2]', ['minInterval'])).toBe('endpoints[2].min_interval');
    expect(fieldPath('spec', ['headers', 'X-Team'])).toBe('spec.headers["X-Team"]');
    expect(fieldPath('', ['states', 0])).toBe('states[0]');
  });

  it('round-trips page tokens and refuses anything else on page_token', () => {
    const token = encodePageToken('01900000-0000-7000-8000-000000000000');
    expect(decodePageToken(token, isUuid)).toBe('01900000-0000-7000-8000-000000000000');
    expect(decodePageToken('', isUuid)).toBeNull();
    for (const bad of ['x', encodePageToken('not-a-uuid'), Buffer.from('{"v":2,"after":"a"}').toString('base64url')]) {
      expect(invalid(() => decodePageToken(bad, isUuid)).violations).toEqual([{ field: 'page_token', reason: 'is not a page token this list returned' }]);
    }
  });
});

describe('endpoint specs', () => {
  it('turn into the jobs-file form and back without loss', () => {
    const message = create(EndpointSpecSchema, {
      name: 'e',
      url: 'http://127.0.0.1:1/e',
      method: 'POST',
      headers: { 'X-A': 'b' },
      body: { kind: { case: 'stringValue', value: 'hello' } },
      schedule: { kind: { case: 'cron', value: { expression: '*/5 * * * *', timezone: 'Europe/Paris' } } },
      minInterval: '1m',
      maxInterval: '1h',
      jitter: '12.5%',
      timeout: '30s',
      catchUp: 'once',
      retry: { attempts: 3, backoff: '2s', maxBackoff: '1m', on: ['5xx', '429', 'timeout'] },
      success: { status: ['2xx', '304'], bodyContains: '"ok":true' },
      overlap: 'skip',
      pauseAfter: 50,
    });
    const input = endpointInputOf(message, 'endpoint');
    expect(create(EndpointSpecSchema, specMessage('e', toEndpointSpec(input)))).toEqual(message);
    // Left out, each comes back as its default, spelled out.
    const plain = specMessage('f', toEndpointSpec(endpointInputOf(create(EndpointSpecSchema, { name: 'f', url: 'http://x', schedule: { kind: { case: 'every', value: '1m' } } }), 'e')));
    expect(plain).toMatchObject({ retry: undefined, success: undefined, overlap: 'queue', pauseAfter: 0, catchUp: 'skip' });
    expect(endpointInputOf(create(EndpointSpecSchema, { name: 'f', url: 'http://x', schedule: { kind: { case: 'every', value: '1m' } }, jitter: '0.25' }), 'e').jitter).toBe(0.25);
  });

  it('report every problem under the request field, in proto names', () => {
    const error = invalid(() => endpointInputOf(create(EndpointSpecSchema, { name: 'bad name', url: 'nope', catchUp: 'always', schedule: { kind: { case: 'cron', value: { expression: '* * * * *', timezone: 'Nowhere/City' } } } }), 'spec'));
    expect(error.violations.map((violation) => violation.field).sort()).toEqual(['spec.catch_up', 'spec.name', 'spec.schedule.cron.timezone', 'spec.url']);
    expect(error.message).toContain('spec.url: must be an absolute http:// or https:// URL');
    expect(invalid(() => endpointInputOf(undefined, 'endpoint')).message).toBe('endpoint: is required');
    const delivery = invalid(() =>
      endpointInputOf(
        create(EndpointSpecSchema, { name: 'd', url: 'http://x', schedule: { kind: { case: 'every', value: '1m' } }, retry: { attempts: 11, on: ['6xx'] }, success: { status: ['ok'] }, overlap: 'drop' }),
        'spec',
      ),
    );
    expect(delivery.violations.map((violation) => violation.field).sort()).toEqual(['spec.overlap', 'spec.retry.attempts', 'spec.retry.on[0]', 'spec.success.status[0]']);
  });
});

describe('the event queue of a watcher', () => {
  it('hands out items in order, times out, and closes on abort', async () => {
    const queue = new EventQueue<number>(3);
    const controller = new AbortController();
    queue.push(1);
    queue.push(2);
    expect(await queue.next(10, controller.signal)).toBe(1);
    expect(await queue.next(10, controller.signal)).toBe(2);
    expect(await queue.next(10, controller.signal)).toBe('timeout');
    const waiting = queue.next(10_000, controller.signal);
    queue.push(3);
    expect(await waiting).toBe(3);
    const aborted = queue.next(10_000, controller.signal);
    controller.abort();
    expect(await aborted).toBe('closed');
  });

  it('reports overflow once a watcher falls `capacity` events behind, and nothing after', async () => {
    const queue = new EventQueue<number>(2);
    for (let i = 0; i < 5; i++) queue.push(i);
    const signal = new AbortController().signal;
    expect(await queue.next(10, signal)).toBe('overflow');
    expect(await queue.next(10, signal)).toBe('overflow');
  });
});

describe('gateway settings', () => {
  it('reads the environment and names a bad value', () => {
    expect(gatewayConfigFromEnv({})).toMatchObject({ host: '0.0.0.0', port: 8080, heartbeatMs: 15_000, watchPollIntervalMs: 1_000 });
    expect(gatewayConfigFromEnv({ TICKWISE_GATEWAY_PORT: '9090', TICKWISE_WATCH_HEARTBEAT: '5s', TICKWISE_WATCH_POLL_INTERVAL: '50ms' })).toMatchObject({ port: 9090, heartbeatMs: 5_000, watchPollIntervalMs: 50, watchMinIntervalMs: 50 });
    expect(() => gatewayConfigFromEnv({ TICKWISE_GATEWAY_PORT: 'http' })).toThrow(new TickwiseError('invalid_config', 'TICKWISE_GATEWAY_PORT must be a port number (1-65535), got "http"'));
    expect(() => gatewayConfigFromEnv({ TICKWISE_WATCH_POLL_INTERVAL: '2m' })).toThrow('TICKWISE_WATCH_POLL_INTERVAL must be from 10ms to 1m, got "2m"');
    expect(() => resolveGatewayConfig({ maxWatchersPerTenant: 5_000 })).toThrow('maxWatchersPerTenant must be an integer between 1 and 1000, got 5000');
  });

  it('reads the connection, watch and authentication limits, with defaults that defend the gateway', () => {
    expect(gatewayConfigFromEnv({})).toMatchObject({
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      idleTimeoutMs: 30_000,
      maxConnections: 4_096,
      maxStreamsPerConnection: 100,
      maxWatchersPerKey: 10,
      watchKeyRecheckMs: 2_000,
      authFailureBurst: 20,
      authFailuresPerMinute: 60,
      authNegativeCacheMs: 5_000,
    });
    const env = {
      TICKWISE_GATEWAY_HEADERS_TIMEOUT: '5s',
      TICKWISE_GATEWAY_REQUEST_TIMEOUT: '1m',
      TICKWISE_GATEWAY_IDLE_TIMEOUT: '2m',
      TICKWISE_GATEWAY_MAX_CONNECTIONS: '500',
      TICKWISE_GATEWAY_MAX_STREAMS: '250',
      TICKWISE_WATCH_MAX_PER_KEY: '3',
      TICKWISE_WATCH_KEY_RECHECK: '500ms',
      TICKWISE_GATEWAY_AUTH_FAILURE_BURST: '5',
      TICKWISE_GATEWAY_AUTH_FAILURES_PER_MINUTE: '10',
      TICKWISE_GATEWAY_AUTH_NEGATIVE_CACHE: '0s',
    };
    expect(gatewayConfigFromEnv(env)).toMatchObject({
      headersTimeoutMs: 5_000,
      requestTimeoutMs: 60_000,
      idleTimeoutMs: 120_000,
      maxConnections: 500,
      maxStreamsPerConnection: 250,
      maxWatchersPerKey: 3,
      watchKeyRecheckMs: 500,
      authFailureBurst: 5,
      authFailuresPerMinute: 10,
      authNegativeCacheMs: 0,
    });
    expect(() => gatewayConfigFromEnv({ TICKWISE_GATEWAY_HEADERS_TIMEOUT: '10' })).toThrow(new TickwiseError('invalid_config', 'TICKWISE_GATEWAY_HEADERS_TIMEOUT must be a duration such as 250ms, 30s or 5m, got "10"'));
    expect(() => gatewayConfigFromEnv({ TICKWISE_GATEWAY_IDLE_TIMEOUT: '10ms' })).toThrow('TICKWISE_GATEWAY_IDLE_TIMEOUT must be from 100ms to 1h, got "10ms"');
    expect(() => gatewayConfigFromEnv({ TICKWISE_GATEWAY_MAX_CONNECTIONS: '0' })).toThrow('TICKWISE_GATEWAY_MAX_CONNECTIONS must be a whole number from 1 to 1000000, got "0"');
    expect(() => gatewayConfigFromEnv({ TICKWISE_GATEWAY_MAX_STREAMS: 'many' })).toThrow('TICKWISE_GATEWAY_MAX_STREAMS must be a whole number from 1 to 10000, got "many"');
    expect(() => gatewayConfigFromEnv({ TICKWISE_WATCH_MAX_PER_KEY: '5000' })).toThrow('TICKWISE_WATCH_MAX_PER_KEY must be a whole number from 1 to 1000, got "5000"');
    expect(() => gatewayConfigFromEnv({ TICKWISE_GATEWAY_AUTH_FAILURES_PER_MINUTE: '-1' })).toThrow('TICKWISE_GATEWAY_AUTH_FAILURES_PER_MINUTE must be a whole number from 1 to 1000000, got "-1"');
    expect(() => gatewayConfigFromEnv({ TICKWISE_GATEWAY_AUTH_NEGATIVE_CACHE: '1h' })).toThrow('TICKWISE_GATEWAY_AUTH_NEGATIVE_CACHE must be from 0ms to 10m, got "1h"');
  });
});

describe('errors answered to a client', () => {
  const answer = (error: unknown) => toConnectError(error, silentLogger, 'test/Call');

  it('keep the code and message of a TickwiseError, and its field violations as BadRequest details', () => {
    const invalid = answer(TickwiseError.invalid([{ field: 'job_id', reason: 'must be a UUID' }]));
    expect([invalid.code, invalid.rawMessage]).toEqual([Code.InvalidArgument, 'job_id: must be a UUID']);
    expect(invalid.findDetails(BadRequestSchema)[0]?.fieldViolations.map(({ field, reason }) => ({ field, reason }))).toEqual([{ field: 'job_id', reason: 'must be a UUID' }]);
    expect(answer(new TickwiseError('not_found', 'job x does not exist')).code).toBe(Code.NotFound);
    expect(answer(new TickwiseError('unavailable', 'gave up after 5 attempts', { reason: 'retries_exhausted' })).code).toBe(Code.Unavailable);
  });

  it('answer a lost database connection UNAVAILABLE, and hide bugs and the server\'s own settings behind INTERNAL', () => {
    const lost = answer(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    expect([lost.code, lost.rawMessage]).toEqual([Code.Unavailable, 'the database is unavailable; try again']);
    for (const hidden of [new TypeError('x is undefined'), new TickwiseError('invalid_config', 'TICKWISE_X must be …'), new TickwiseError('internal', 'a state that should not exist')]) {
      const internal = answer(hidden);
      expect([internal.code, internal.rawMessage]).toEqual([Code.Internal, 'internal error']);
    }
  });
});

describe('failed authentication limits', () => {
  it('take the client of an address: IPv4 as is (also IPv4-mapped), IPv6 by its /64', () => {
    expect(clientOf('203.0.113.7')).toBe('203.0.113.7');
    expect(clientOf('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(clientOf('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(clientOf('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(clientOf('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientOf('::1')).toBe('0:0:0:0::/64');
    expect(clientOf('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(clientOf('64:ff9b::192.0.2.1')).toBe('64:ff9b:0:0::/64');
    expect(clientOf(undefined)).toBe('unknown');
  });

  it('refuse an address out of failures with RESOURCE_EXHAUSTED and when to retry, and refill it', async () => {
    let now = 0;
    let lookups = 0;
    const db = { query: async () => (lookups++, { rows: [] }) } as unknown as Queryable;
    const limits = new AuthLimits({ authFailureBurst: 2, authFailuresPerMinute: 6, authNegativeCacheMs: 5_000 }, () => now);
    const attempt = (key: string, address = '198.51.100.1') =>
      limits.authenticate(db, `Bearer ${key}`, address, silentLogger).then(
        () => {
          throw new Error('expected a refusal');
        },
        (error: unknown) => error as TickwiseError,
      );
    const [one, two] = [generateApiKey().key, generateApiKey().key];
    expect((await attempt(one)).code).toBe('unauthenticated');
    expect((await attempt(one)).code).toBe('unauthenticated'); // from the negative cache
    expect(lookups).toBe(1);
    const limited = await attempt(two);
    expect(limited).toBeInstanceOf(RetryLater);
    expect([limited.code, limited.message, (limited as RetryLater).retryAfterSeconds]).toEqual(['resource_exhausted', 'too many failed authentications from this address; try again in 10s', 10]);
    expect(toConnectError(limited, silentLogger, 'test/Call').metadata.get('retry-after')).toBe('10');
    expect((await attempt(two, '198.51.100.2')).code).toBe('unauthenticated');
    now += 10_000;
    expect((await attempt(two)).code).toBe('unauthenticated');
    expect(lookups).toBe(3);
    now += 5_000;
    // The cache has expired: the first key is looked up again (with the token earned back meanwhile).
    expect((await attempt(one, '198.51.100.3')).code).toBe('unauthenticated');
    expect(lookups).toBe(4);
  });
});
