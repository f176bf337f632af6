import { Code, ConnectError } from '@connectrpc/connect';
import { describe, expect, it } from 'vitest';
import { JobService, WatchService } from '@tickwise/api';
import { codeLabel } from '../src/metrics.ts';
import { waitFor } from '../../../test/support/wait.ts';
import { useGateway } from '../../../test/support/gateway.ts';

const LIST_JOBS = 'tickwise.v1.JobService/ListJobs';
const WATCH = 'tickwise.v1.WatchService/Watch';

/** One sample of a scraped Prometheus text, or 0 when absent. Pure. */
function valueIn(text: string, series: string): number {
  const line = text.split('\n').find((each) => each.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

async function scrape(url: string): Promise<string> {
  const response = await fetch(`${url}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/plain');
  return response.text();
}

describe('gateway /metrics over HTTP', () => {
  const fx = useGateway({ heartbeatMs: 200 });

  it('counts calls by procedure and code and times them', async () => {
    const before = await scrape(fx.gateway.url);
    const ok = `tickwise_gateway_requests_total{procedure="${LIST_JOBS}",code="ok"}`;
    const unauthenticated = `tickwise_gateway_requests_total{procedure="${LIST_JOBS}",code="unauthenticated"}`;
    await fx.client(JobService, fx.a.keys.read).listJobs({});
    await fx.client(JobService, fx.a.keys.read, 'grpc').listJobs({});
    const refused = await fx.client(JobService, null).listJobs({}).catch((error: unknown) => ConnectError.from(error));
    expect((refused as ConnectError).code).toBe(Code.Unauthenticated);
    const denied = await fx.client(JobService, fx.a.keys.read).createJob({ name: 'nope', endpoints: [] }).catch((error: unknown) => ConnectError.from(error));
    expect((denied as ConnectError).code).toBe(Code.PermissionDenied);

    const after = await scrape(fx.gateway.url);
    expect(valueIn(after, ok) - valueIn(before, ok)).toBe(2);
    expect(valueIn(after, unauthenticated) - valueIn(before, unauthenticated)).toBe(1);
    expect(valueIn(after, `tickwise_gateway_requests_total{procedure="tickwise.v1.JobService/CreateJob",code="permission_denied"}`)).toBe(1);
    expect(valueIn(after, `tickwise_gateway_request_duration_seconds_count{procedure="${LIST_JOBS}",code="ok"}`)).toBe(valueIn(after, ok));
    // The process metrics come along.
    expect(after).toContain('process_cpu_user_seconds_total');
    expect(after).toContain('nodejs_eventloop_lag_seconds');
  });

  it('shows an open watch while it streams, and counts it when it ends', async () => {
    const controller = new AbortController();
    let heartbeats = 0;
    const streaming = (async () => {
      try {
        for await (const message of fx.client(WatchService, fx.a.keys.read, 'grpc').watch({}, { signal: controller.signal })) {
          if (message.event.case === 'heartbeat') heartbeats++;
        }
      } catch (error) {
        if (ConnectError.from(error).code !== Code.Canceled) throw error;
      }
    })();
    await waitFor('a heartbeat', () => heartbeats > 0);
    expect(valueIn(await scrape(fx.gateway.url), 'tickwise_gateway_open_watches')).toBe(1);
    controller.abort();
    await streaming;
    const closed = await waitFor('the watch closed', async () => {
      const text = await scrape(fx.gateway.url);
      return valueIn(text, 'tickwise_gateway_open_watches') === 0 ? text : null;
    });
    // The caller went away: canceled, as gRPC calls it.
    expect(valueIn(closed, `tickwise_gateway_requests_total{procedure="${WATCH}",code="canceled"}`)).toBe(1);
  });

  it('keeps /healthz and /readyz beside /metrics, unauthenticated', async () => {
    expect((await fetch(`${fx.gateway.url}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${fx.gateway.url}/readyz`)).json()).toEqual({ status: 'ready' });
  });

  it('labels failures with Connect code names', () => {
    expect(codeLabel(new ConnectError('x', Code.InvalidArgument))).toBe('invalid_argument');
    expect(codeLabel(new Error('not a ConnectError'))).toBe('unknown');
  });
});
