import { Code, ConnectError, createClient, type Client, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-web';
import { AnalysisService, EndpointService, HintService, JobService, NodeService, NotificationService, OverviewService, RunService, SigningService, WatchService } from '@tickwise/api';

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
  notifications: Client<typeof NotificationService>;
  signing: Client<typeof SigningService>;
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
    notifications: createClient(NotificationService, transport),
    signing: createClient(SigningService, transport),
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
