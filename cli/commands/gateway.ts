import { checkSecretsKeys } from '@tickwise/catalog';
import { gatewayConfigFromEnv, startGateway, type Gateway, type GatewayOptions } from '@tickwise/gateway';
import { describeTargetPolicy, invalidConfig } from '@tickwise/platform';
import { loggerFor, requireDatabaseUrl, type CliSettings } from '../settings.ts';
import { openPool, requireCurrentSchema, untilSignal } from './common.ts';

/** Starts the gateway; a port it cannot have is `invalid_config` naming the settings to change (exit 2). */
export function listenGateway(options: GatewayOptions): Promise<Gateway> {
  const { host, port } = options.config;
  return startGateway(options).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'EADDRINUSE' || error.code === 'EACCES' || error.code === 'EADDRNOTAVAIL') {
      throw invalidConfig(`cannot listen on ${host}:${port} (${error.code}); set TICKWISE_GATEWAY_PORT or TICKWISE_GATEWAY_HOST`);
    }
    throw error;
  });
}

/** The API gateway (gRPC, gRPC-Web and Connect on one port, with its probes and /metrics) until SIGINT/SIGTERM. */
export async function gatewayCommand(settings: CliSettings, env: NodeJS.ProcessEnv): Promise<number> {
  const log = loggerFor(settings, 'gateway');
  const connectionString = requireDatabaseUrl(settings, 'gateway');
  const config = gatewayConfigFromEnv(env);
  const pool = await openPool(settings, connectionString, log, 10);
  try {
    await requireCurrentSchema(pool);
    // Secrets set here must open on the nodes: a key that matches none of the stored ones stops it.
    await checkSecretsKeys(pool, config.secretsKeys, { decrypts: false });
    const gateway = await listenGateway({ pool, connectionString, config, log });
    log.info('gateway listening', { url: gateway.url, host: config.host, port: gateway.port, protocols: 'grpc, grpc-web, connect', paths: '/healthz /readyz /metrics', targets: describeTargetPolicy(config.targetPolicy) });
    const signal = await untilSignal(log);
    log.info('stopping', { signal });
    await gateway.close();
    return 0;
  } finally {
    await pool.end();
  }
}
