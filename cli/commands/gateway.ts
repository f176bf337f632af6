import { GatewayConfigError, gatewayConfigFromEnv, startGateway } from '@tickwise/gateway';
import { loggerFor, requireDatabaseUrl, UsageError, type CliSettings } from '../settings.ts';
import { openPool, requireCurrentSchema, untilSignal } from './common.ts';

/** The API gateway (gRPC, gRPC-Web and Connect on one port) until SIGINT/SIGTERM. */
export async function gatewayCommand(settings: CliSettings, env: NodeJS.ProcessEnv): Promise<number> {
  const log = loggerFor(settings, 'gateway');
  const connectionString = requireDatabaseUrl(settings, 'gateway');
  let config;
  try {
    config = gatewayConfigFromEnv(env);
  } catch (error) {
    if (error instanceof GatewayConfigError) throw new UsageError(error.message);
    throw error;
  }
  const pool = await openPool(settings, connectionString, log, 10);
  try {
    await requireCurrentSchema(pool);
    const gateway = await startGateway({ pool, connectionString, config, log }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE' || error.code === 'EACCES' || error.code === 'EADDRNOTAVAIL') {
        throw new UsageError(`cannot listen on ${config.host}:${config.port} (${error.code}); set TICKWISE_GATEWAY_PORT or TICKWISE_GATEWAY_HOST`);
      }
      throw error;
    });
    log.info('gateway listening', { url: gateway.url, host: config.host, port: gateway.port, protocols: 'grpc, grpc-web, connect' });
    const signal = await untilSignal(log);
    log.info('stopping', { signal });
    await gateway.close();
    return 0;
  } finally {
    await pool.end();
  }
}
