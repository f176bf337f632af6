import type { DescService } from '@bufbuild/protobuf';
import { createClient, type Client, type Interceptor, type Transport } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { insertTenant, newId, type ApiKeyRole, type Pool } from '@tickwise/db';
import { afterAll, beforeAll } from 'vitest';
import { createApiKey, resolveGatewayConfig, startGateway, type Gateway, type GatewayConfig } from '@tickwise/gateway';
import { createTestDatabase, type TestDatabase } from './database.ts';
import { memoryLogger } from './logger.ts';
import { TEST_TARGET_POLICY } from './targets.ts';

export type Protocol = 'connect' | 'grpc' | 'grpc-web' | 'connect-h2';
export const PROTOCOLS: readonly Protocol[] = ['connect', 'grpc', 'grpc-web', 'connect-h2'];

export interface Tenant {
  id: string;
  name: string;
  keys: Record<ApiKeyRole, string>;
}

/** A tenant with one key of each role, written straight to the database. */
export async function createTenant(pool: Pool, name: string): Promise<Tenant> {
  const tenant = (await insertTenant(pool, { id: newId(), name }))!;
  const keys = {} as Record<ApiKeyRole, string>;
  for (const role of ['read', 'write', 'admin'] as const) keys[role] = (await createApiKey(pool, { tenantId: tenant.id, role, name: `${role}-key` })).key;
  return { id: tenant.id, name, keys };
}

export const bearer = (key: string | null): Interceptor => (next) => (request) => {
  if (key !== null) request.header.set('authorization', `Bearer ${key}`);
  return next(request);
};

/** A real client transport of the given protocol to the gateway, sending `key`. */
export function transportFor(baseUrl: string, protocol: Protocol, key: string | null): Transport {
  const interceptors = [bearer(key)];
  switch (protocol) {
    case 'connect':
      return createConnectTransport({ baseUrl, httpVersion: '1.1', interceptors });
    case 'connect-h2':
      return createConnectTransport({ baseUrl, httpVersion: '2', interceptors });
    case 'grpc':
      return createGrpcTransport({ baseUrl, interceptors });
    case 'grpc-web':
      return createGrpcWebTransport({ baseUrl, httpVersion: '1.1', interceptors });
  }
}

export interface GatewayFixture {
  db: TestDatabase;
  gateway: Gateway;
  log: ReturnType<typeof memoryLogger>;
  a: Tenant;
  b: Tenant;
  client<S extends DescService>(service: S, key: string | null, protocol?: Protocol): Client<S>;
}

/**
 * A fresh database with two tenants (A and B, a key of each role) and a gateway on a free port, for
 * the tests of one file. Its target policy allows private targets (the tests' are on 127.0.0.1);
 * pass `targetPolicy` to test another. Read the fields inside the tests.
 */
export function useGateway(overrides: Partial<GatewayConfig> = {}): GatewayFixture {
  const fixture = {} as GatewayFixture;
  beforeAll(async () => {
    fixture.db = await createTestDatabase();
    fixture.log = memoryLogger();
    fixture.a = await createTenant(fixture.db.pool, 'tenant-a');
    fixture.b = await createTenant(fixture.db.pool, 'tenant-b');
    fixture.gateway = await startGateway({
      pool: fixture.db.pool,
      connectionString: fixture.db.url,
      config: resolveGatewayConfig({ host: '127.0.0.1', port: 0, watchPollIntervalMs: 200, watchMinIntervalMs: 20, heartbeatMs: 500, targetPolicy: TEST_TARGET_POLICY, ...overrides }),
      log: fixture.log,
    });
    fixture.client = (service, key, protocol = 'connect') => createClient(service, transportFor(fixture.gateway.url, protocol, key));
  });
  afterAll(async () => {
    await fixture.gateway?.close();
    await fixture.db?.drop();
  });
  return fixture;
}

/** The log lines of errors the gateway answered INTERNAL: a test fails if there is any. */
export function internalErrors(fixture: GatewayFixture): string[] {
  return fixture.log.lines.filter((line) => line.startsWith('error internal error'));
}

/** A minimal valid endpoint spec in the message's init form. */
export function spec(name: string, url: string, every = '1h', extra: Record<string, unknown> = {}) {
  return { name, url, schedule: { kind: { case: 'every' as const, value: every } }, ...extra };
}
