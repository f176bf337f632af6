import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { GatewayConfigError, gatewayConfigFromEnv, generateApiKey, parseApiKey, resolveGatewayConfig, secretMatches } from '../src/index.ts';
import { EndpointSpecSchema } from '../src/gen/tickwise/v1/resources_pb.ts';
import { endpointInputOf, specMessage } from '../src/spec.ts';
import { decodePageToken, encodePageToken, fieldPath, isUuid } from '../src/validate.ts';
import { EventQueue } from '../src/watch-queue.ts';
import { GatewayError } from '../src/errors.ts';
import { toEndpointSpec } from '@tickwise/machines';
import { DEFAULT_TARGET_POLICY } from '@tickwise/scheduler';

function invalid(run: () => unknown): GatewayError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(GatewayError);
    return error as GatewayError;
  }
  throw new Error('expected a GatewayError');
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
    });
    const input = endpointInputOf(message, 'endpoint', DEFAULT_TARGET_POLICY);
    expect(create(EndpointSpecSchema, specMessage('e', toEndpointSpec(input)))).toEqual(message);
    expect(endpointInputOf(create(EndpointSpecSchema, { name: 'f', url: 'http://x', schedule: { kind: { case: 'every', value: '1m' } }, jitter: '0.25' }), 'e', DEFAULT_TARGET_POLICY).jitter).toBe(0.25);
  });

  it('report every problem under the request field, in proto names', () => {
    const error = invalid(() => endpointInputOf(create(EndpointSpecSchema, { name: 'bad name', url: 'nope', catchUp: 'always', schedule: { kind: { case: 'cron', value: { expression: '* * * * *', timezone: 'Nowhere/City' } } } }), 'spec', DEFAULT_TARGET_POLICY));
    expect(error.violations.map((violation) => violation.field).sort()).toEqual(['spec.catch_up', 'spec.name', 'spec.schedule.cron.timezone', 'spec.url']);
    expect(error.message).toContain('spec.url: must be an absolute http:// or https:// URL');
    expect(invalid(() => endpointInputOf(undefined, 'endpoint', DEFAULT_TARGET_POLICY)).message).toBe('endpoint: is required');
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
    expect(() => gatewayConfigFromEnv({ TICKWISE_GATEWAY_PORT: 'http' })).toThrow(new GatewayConfigError('TICKWISE_GATEWAY_PORT must be a port number (1-65535), got "http"'));
    expect(() => gatewayConfigFromEnv({ TICKWISE_WATCH_POLL_INTERVAL: '2m' })).toThrow('TICKWISE_WATCH_POLL_INTERVAL must be from 10ms to 1m, got "2m"');
    expect(() => resolveGatewayConfig({ maxWatchersPerTenant: 5_000 })).toThrow('maxWatchersPerTenant must be an integer from 1 to 1000, got 5000');
  });
});
