/**
 * `npm run bench api`: what the gateway costs with a tenant of BENCH_API_ENDPOINTS endpoints (default
 * 10,000) that each have 20 runs: the visualizer's page of 500 summaries, a page of 500 endpoints, one
 * machine, and unary calls per second at 32 at once over Connect JSON (HTTP/1.1) and gRPC (HTTP/2).
 * The gateway runs in this process, as one `tickwise gateway` would; the client shares its cores.
 */
import { createClient, type Client, type Interceptor, type Transport } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport } from '@connectrpc/connect-node';
import { DEFAULT_TENANT_ID } from '@tickwise/db';
import { createApiKey, resolveGatewayConfig, startGateway } from '@tickwise/gateway';
import { EndpointService, OverviewService } from '@tickwise/api';
import { benchDatabase, bulkEndpoints, percentile } from './setup.ts';

const ENDPOINTS = Number(process.env.BENCH_API_ENDPOINTS ?? 10_000);
const RUNS_PER_ENDPOINT = 20;
const CONCURRENCY = 32;
const SECONDS = 5;

const quiet = { debug() {}, info() {}, warn() {}, error: (message: string, fields?: object) => console.error(message, fields ?? '') };

/** p50/p99 in ms of `rounds` sequential calls. */
async function timed(rounds: number, call: () => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  const samples: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const started = performance.now();
    await call();
    samples.push(performance.now() - started);
  }
  samples.sort((a, b) => a - b);
  return { p50: Number(percentile(samples, 50).toFixed(2)), p99: Number(percentile(samples, 99).toFixed(2)) };
}

/** Calls per second with `CONCURRENCY` callers for `SECONDS`. */
async function rate(call: () => Promise<unknown>): Promise<number> {
  const deadline = performance.now() + SECONDS * 1_000;
  let calls = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < deadline) {
        await call();
        calls++;
      }
    }),
  );
  return Math.round(calls / SECONDS);
}

export async function apiBench() {
  const db = await benchDatabase('tickwise_bench_api');
  try {
    await bulkEndpoints(db.pool, ENDPOINTS, { url: 'http://127.0.0.1:9/none', schedule: { every: '1h' } }, new Date(Date.now() + 3_600_000), 1);
    // Runs with time-ordered ids, as the nodes write them: 20 per endpoint over the last 20 minutes.
    await db.pool.query(
      `INSERT INTO runs (id, endpoint_id, job_id, slot, attempt, worker, status, http_status, duration_ms, started_at, finished_at)
       SELECT (left(tickwise_uuid7_floor(t)::text, 19) || right(gen_random_uuid()::text, 17))::uuid, e.id, e.job_id, t, 1, 'bench',
              CASE WHEN random() < 0.1 THEN 'failed' ELSE 'succeeded' END, 200, 5 + random() * 50, t, t + interval '20 ms'
         FROM endpoints e, generate_series(1, $1) AS n, LATERAL (SELECT now() - make_interval(mins => n) AS t) slot`,
      [RUNS_PER_ENDPOINT],
    );
    await db.pool.query('VACUUM ANALYZE runs');
    const { key } = await createApiKey(db.pool, { tenantId: DEFAULT_TENANT_ID, role: 'read', name: 'bench' });
    const gateway = await startGateway({ pool: db.pool, connectionString: db.url, config: resolveGatewayConfig({ host: '127.0.0.1', port: 0 }), log: quiet });
    try {
      const bearer: Interceptor = (next) => (request) => {
        request.header.set('authorization', `Bearer ${key}`);
        return next(request);
      };
      const transports: Record<string, Transport> = {
        'connect-json-h1': createConnectTransport({ baseUrl: gateway.url, httpVersion: '1.1', interceptors: [bearer] }),
        'grpc-h2': createGrpcTransport({ baseUrl: gateway.url, interceptors: [bearer] }),
      };
      const endpoints: Client<typeof EndpointService> = createClient(EndpointService, transports['connect-json-h1']!);
      const overview = createClient(OverviewService, transports['connect-json-h1']!);
      const firstId = (await endpoints.listEndpoints({ pageSize: 1 })).endpoints[0]!.id;

      await timed(5, () => overview.listEndpointSummaries({ pageSize: 500 }));
      const summaries = await timed(30, () => overview.listEndpointSummaries({ pageSize: 500 }));
      const listed = await timed(30, () => endpoints.listEndpoints({ pageSize: 500 }));
      const machine = await timed(200, () => endpoints.getMachine({ endpointId: firstId }));
      const callsPerSecond: Record<string, number> = {};
      for (const [name, transport] of Object.entries(transports)) {
        const client = createClient(EndpointService, transport);
        await rate(() => client.getEndpoint({ endpointId: firstId }));
        callsPerSecond[name] = await rate(() => client.getEndpoint({ endpointId: firstId }));
      }
      const figure = { endpoints: ENDPOINTS, runs: ENDPOINTS * RUNS_PER_ENDPOINT, summariesPage500Ms: summaries, endpointsPage500Ms: listed, getMachineMs: machine, getEndpointPerSecond: callsPerSecond, concurrency: CONCURRENCY };
      console.log(`api, ${ENDPOINTS.toLocaleString('en')} endpoints with ${RUNS_PER_ENDPOINT} runs each:`);
      console.log(`  ListEndpointSummaries (500): p50 ${summaries.p50} ms, p99 ${summaries.p99} ms; ListEndpoints (500): p50 ${listed.p50} ms, p99 ${listed.p99} ms; GetMachine: p50 ${machine.p50} ms, p99 ${machine.p99} ms`);
      console.log(`  GetEndpoint at ${CONCURRENCY} at once: ${Object.entries(callsPerSecond).map(([name, perSecond]) => `${name} ${perSecond}/s`).join(', ')}`);
      return figure;
    } finally {
      await gateway.close();
    }
  } finally {
    await db.close();
  }
}
