import { connect as http2Connect } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createPool } from '@tickwise/db';
import { resolveGatewayConfig, startGateway } from '../src/index.ts';
import { memoryLogger } from '../../../test/support/logger.ts';
import { describe, expect, it } from 'vitest';
import { JobService, WatchService } from '@tickwise/api';
import { internalErrors, PROTOCOLS, transportFor, useGateway } from '../../../test/support/gateway.ts';
import { waitFor } from '../../../test/support/wait.ts';

describe('one port for gRPC, gRPC-Web and Connect, plus health probes', () => {
  const fx = useGateway();

  it('answers the same call over gRPC (h2c), gRPC-Web (HTTP/1.1) and Connect (HTTP/1.1 and HTTP/2) on one port', async () => {
    await fx.client(JobService, fx.a.keys.write).createJob({ name: 'everywhere', endpoints: [] });
    for (const protocol of PROTOCOLS) {
      const { jobs } = await fx.client(JobService, fx.a.keys.read, protocol).listJobs({});
      expect(jobs.map((job) => job.name), protocol).toEqual(['everywhere']);
    }
    for (const protocol of PROTOCOLS) {
      const error = await fx.client(JobService, fx.a.keys.read, protocol).getJob({ jobId: 'bad' }).catch((caught: unknown) => ConnectError.from(caught));
      expect(error, protocol).toBeInstanceOf(ConnectError);
      expect((error as ConnectError).code, protocol).toBe(Code.InvalidArgument);
      expect((error as ConnectError).rawMessage, protocol).toBe('job_id: must be a UUID');
    }
  });

  it('works with plain HTTP and JSON, as the README shows with curl', async () => {
    const create = await fetch(`${fx.gateway.url}/tickwise.v1.JobService/CreateJob`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${fx.a.keys.write}` },
      body: JSON.stringify({ name: 'curl-job', endpoints: [{ name: 'ping', url: 'https://example.com/ping', schedule: { every: '5m' }, jitter: '10%' }] }),
    });
    expect(create.status).toBe(200);
    const created = (await create.json()) as { job: { id: string; name: string; endpointCount: number }; changes: { action: string; endpoint?: string }[] };
    expect(created.job).toMatchObject({ name: 'curl-job', endpointCount: 1 });
    expect(created.changes).toEqual([{ action: 'created' }, { endpoint: 'ping', action: 'created' }]);
    const list = await fetch(`${fx.gateway.url}/tickwise.v1.EndpointService/ListEndpoints`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${fx.a.keys.read}` },
      body: JSON.stringify({ jobId: created.job.id }),
    });
    const body = (await list.json()) as { endpoints: { name: string; state: string; spec: Record<string, unknown> }[] };
    expect(body.endpoints[0]).toMatchObject({ name: 'ping', state: 'MACHINE_STATE_IDLE', spec: { url: 'https://example.com/ping', schedule: { every: '5m' }, jitter: '10%', method: 'GET' } });
    const error = await fetch(`${fx.gateway.url}/tickwise.v1.JobService/GetJob`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${fx.a.keys.read}` },
      body: JSON.stringify({ jobId: '01900000-0000-7000-8000-000000000000' }),
    });
    expect(error.status).toBe(404);
    expect(await error.json()).toEqual({ code: 'not_found', message: expect.stringContaining('does not exist') });
    const unauthenticated = await fetch(`${fx.gateway.url}/tickwise.v1.JobService/ListJobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(unauthenticated.status).toBe(401);
  });

  it('serves /healthz and /readyz on the same port, over HTTP/1.1 and HTTP/2; other paths are 404', async () => {
    expect(await (await fetch(`${fx.gateway.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${fx.gateway.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
    expect((await fetch(`${fx.gateway.url}/nope`)).status).toBe(404);
    const session = http2Connect(fx.gateway.url);
    const status = await new Promise<number>((resolve, reject) => {
      const stream = session.request({ ':path': '/readyz' });
      stream.on('response', (headers) => resolve(Number(headers[':status'])));
      stream.on('error', reject);
      stream.resume();
    });
    session.close();
    expect(status).toBe(200);
  });

  it('ends open watches cleanly when the gateway closes', async () => {
    const ended: string[] = [];
    const streams = (['grpc', 'connect'] as const).map(async (protocol) => {
      let heartbeats = 0;
      for await (const message of fx.client(WatchService, fx.a.keys.read, protocol).watch({})) if (message.event.case === 'heartbeat') heartbeats++;
      ended.push(`${protocol} after ${heartbeats > 0 ? 'heartbeats' : 'nothing'}`);
    });
    await waitFor('both watches live', () => fx.gateway.hub.size === 2);
    await fx.gateway.close();
    await Promise.all(streams);
    expect(ended.sort()).toEqual(['connect after heartbeats', 'grpc after heartbeats']);
    expect(internalErrors(fx)).toEqual([]);
  });
});

describe('a gateway whose database cannot be reached', () => {
  it('stays up: /healthz answers, /readyz says 503 and why, calls are UNAVAILABLE (not INTERNAL), garbage on the port is dropped', async () => {
    const log = memoryLogger();
    const pool = createPool({ connectionString: 'postgres://postgres@127.0.0.1:1/none', max: 2 });
    const gateway = await startGateway({ pool, connectionString: 'postgres://postgres@127.0.0.1:1/none', config: resolveGatewayConfig({ host: '127.0.0.1', port: 0 }), log });
    try {
      expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
      const ready = await fetch(`${gateway.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({ status: 'unavailable', reason: expect.stringContaining('database:') });
      const key = 'tw_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
      for (const protocol of PROTOCOLS) {
        const error = await createClient(JobService, transportFor(gateway.url, protocol, key)).listJobs({}).catch((caught: unknown) => ConnectError.from(caught));
        expect((error as ConnectError).code, protocol).toBe(Code.Unavailable);
        expect((error as ConnectError).rawMessage).toBe('the database is unavailable; try again');
      }
      for (const garbage of [Buffer.from('PRI * HTTP/2.0\r\n\r\nXX'), Buffer.from([0, 1, 2, 3, 255, 254]), Buffer.from('GET / HTTP/9.9\r\n\r\n')]) {
        await new Promise<void>((resolve) => {
          const socket = netConnect(gateway.port, '127.0.0.1', () => socket.end(garbage));
          socket.on('error', () => resolve());
          socket.on('close', () => resolve());
          socket.resume();
        });
      }
      expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
      expect(log.lines.filter((line) => line.startsWith('error'))).toEqual([]);
    } finally {
      await gateway.close();
      await pool.end();
    }
  });
});
