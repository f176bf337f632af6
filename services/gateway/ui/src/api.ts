import { Code, ConnectError, createClient, type Client, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-web';
import { AnalysisService } from '../../src/gen/tickwise/v1/analysis_service_pb.ts';
import { EndpointService } from '../../src/gen/tickwise/v1/endpoint_service_pb.ts';
import { HintService } from '../../src/gen/tickwise/v1/hint_service_pb.ts';
import { JobService } from '../../src/gen/tickwise/v1/job_service_pb.ts';
import { NodeService } from '../../src/gen/tickwise/v1/node_service_pb.ts';
import { OverviewService } from '../../src/gen/tickwise/v1/overview_service_pb.ts';
import { RunService } from '../../src/gen/tickwise/v1/run_service_pb.ts';
import { WatchService } from '../../src/gen/tickwise/v1/watch_service_pb.ts';

/** Every API the page calls, with the key the person signed in with. Same origin: the gateway serves both. */
export interface Api {
  overview: Client<typeof OverviewService>;
  endpoints: Client<typeof EndpointService>;
  jobs: Client<typeof JobService>;
  runs: Client<typeof RunService>;
  hints: Client<typeof HintService>;
  analyses: Client<typeof AnalysisService>;
  nodes: Client<typeof NodeService>;
  watch: Client<typeof WatchService>;
}

export function createApi(key: string, baseUrl = location.origin): Api {
  const auth: Interceptor = (next) => (request) => {
    request.header.set('authorization', `Bearer ${key}`);
    return next(request);
  };
  const transport = createConnectTransport({ baseUrl, interceptors: [auth] });
  return {
    overview: createClient(OverviewService, transport),
    endpoints: createClient(EndpointService, transport),
    jobs: createClient(JobService, transport),
    runs: createClient(RunService, transport),
    hints: createClient(HintService, transport),
    analyses: createClient(AnalysisService, transport),
    nodes: createClient(NodeService, transport),
    watch: createClient(WatchService, transport),
  };
}

/** What went wrong, in words for the page. */
export function describeError(error: unknown): string {
  const connect = ConnectError.from(error);
  switch (connect.code) {
    case Code.Unauthenticated:
      return `the key was not accepted: ${connect.rawMessage}`;
    case Code.PermissionDenied:
      return `not allowed: ${connect.rawMessage}`;
    case Code.Unavailable:
    case Code.Unknown:
      return `cannot reach the gateway: ${connect.rawMessage}`;
    default:
      return connect.rawMessage;
  }
}

export const isUnauthenticated = (error: unknown): boolean => ConnectError.from(error).code === Code.Unauthenticated;
