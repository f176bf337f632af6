import { join } from 'node:path';
import { applyJobs, checkSecretsKeys } from '@tickwise/catalog';
import { migrate, overview, startEmbeddedPostgres, type EmbeddedServer } from '@tickwise/db';
import { gatewayConfigFromEnv } from '@tickwise/gateway';
import { startPlannerService } from '@tickwise/planner';
import { allowPrivateOrigin, describeTargetPolicy, invalidConfig } from '@tickwise/platform';
import { describeConfig, SchedulerNode, schedulerConfigFromEnv } from '@tickwise/scheduler';
import { databaseActor } from '../audit-actor.ts';
import { demoJob } from '../dev/demo-job.ts';
import { DEV_KEY_NAME, freshDevKey } from '../dev/dev-key.ts';
import { devSecretsKey } from '../dev/secrets-key.ts';
import { startSyntheticServer } from '../dev/synthetic-server.ts';
import { loggerFor, type CliSettings } from '../settings.ts';
import { openPool, untilSignal } from './common.ts';
import { listenGateway } from './gateway.ts';

const STATUS_EVERY_MS = 15_000;

/**
 * Everything on one machine: embedded PostgreSQL 15 (unless DATABASE_URL is set), migrations, the
 * synthetic targets, the demo job, one scheduler node, the planner and the gateway (with a fresh
 * admin key). Ctrl-C stops it all cleanly.
 */
export async function devCommand(settings: CliSettings, env: NodeJS.ProcessEnv): Promise<number> {
  const log = loggerFor(settings, 'dev');
  const secretsKey = devSecretsKey(settings.dataDir, env);
  const config = schedulerConfigFromEnv(secretsKey.env);
  // On a laptop the API (with an admin key printed on the terminal) stays on loopback unless asked otherwise.
  const gatewayConfig = gatewayConfigFromEnv({ ...secretsKey.env, TICKWISE_GATEWAY_HOST: env.TICKWISE_GATEWAY_HOST || '127.0.0.1' });
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((error: Error) => log.warn('stop failed', { error: error.message }));
  };
  try {
    let connectionString = settings.databaseUrl;
    if (!connectionString) {
      const dataDir = join(settings.dataDir, 'pg');
      let server: EmbeddedServer;
      try {
        server = await startEmbeddedPostgres({ dataDir, port: settings.embeddedPort, log: (line) => log.debug(line) });
      } catch (error) {
        const hint = /bind|already in use|lock file/i.test((error as Error).message) ? ' Is another "tickwise dev" running? Set TICKWISE_EMBEDDED_PG_PORT to use another port.' : '';
        throw invalidConfig(`could not start embedded PostgreSQL on port ${settings.embeddedPort} with data in ${dataDir}: ${(error as Error).message}${hint}`);
      }
      stops.push(() => server.stop());
      await server.createDatabase('tickwise');
      connectionString = server.urlFor('tickwise');
      console.log(`• PostgreSQL 15 (embedded) on 127.0.0.1:${settings.embeddedPort}, data in ${dataDir}`);
    } else {
      console.log('• using the database at DATABASE_URL');
    }
    const pool = await openPool(settings, connectionString, log, 10);
    stops.push(() => pool.end());
    const migrated = await migrate(pool);
    console.log(`• schema: ${migrated.applied.length === 0 ? 'up to date' : `${migrated.applied.length} migration step(s) applied`} (${migrated.flavour})`);
    const { secrets } = await checkSecretsKeys(pool, config.secretsKeys, { decrypts: true });
    console.log(`• ${secretsKey.note}${secrets > 0 ? `; ${secrets} secret(s) stored` : ''}`);

    const synthetic = await startSyntheticServer(settings.syntheticPort).catch((error: Error) => {
      throw invalidConfig(`could not serve the synthetic endpoints on port ${settings.syntheticPort}: ${error.message}. Set TICKWISE_SYNTHETIC_PORT to use another port.`);
    });
    stops.push(() => synthetic.close());
    console.log(`• synthetic endpoints at ${synthetic.url}/synthetic/{health,echo,flaky,slow}`);
    // The synthetic server is on loopback, which the target policy refuses by default: let exactly
    // its origin through (for the node, the gateway and the demo's apply) rather than every private
    // address. TICKWISE_ALLOW_PRIVATE_TARGETS=true still opens them all for one's own local targets.
    const targetPolicy = allowPrivateOrigin(config.targetPolicy, synthetic.url);
    console.log(`• target policy: ${describeTargetPolicy(targetPolicy)}${targetPolicy.allowPrivate ? '' : ' (TICKWISE_ALLOW_PRIVATE_TARGETS=true to call your own local targets)'}`);

    const gateway = await listenGateway({ pool, connectionString, config: { ...gatewayConfig, targetPolicy }, log });
    stops.push(() => gateway.close());
    const dev = await freshDevKey(pool);
    console.log(`• gateway at ${gateway.url} (gRPC, gRPC-Web, Connect; /healthz, /readyz, /metrics); admin key "${DEV_KEY_NAME}" of tenant "${dev.tenant}"${dev.revoked > 0 ? ` (the previous dev key${dev.revoked > 1 ? 's' : ''} revoked)` : ''}`);
    console.log(`• visualizer at ${gateway.url}/ui (sign in with the key below)`);

    const job = demoJob(synthetic.url);
    await applyJobs(pool, [job], { targetPolicy, audit: databaseActor('dev') });
    console.log(`• demo job "${job.name}" (synthetic: true): ${job.endpoints.map((endpoint) => endpoint.name).join(', ')}`);

    const node = new SchedulerNode({ pool, connectionString, config: { ...config, targetPolicy }, log });
    node.start();
    stops.push(() => node.stop());
    console.log(`• scheduler node ${config.workerId} (${describeConfig(config)})`);

    // Notifications link to the endpoint's page: in dev, the visualizer this command serves.
    const planner = await startPlannerService({ pool, connectionString, env: { TICKWISE_PUBLIC_URL: gateway.url, ...env }, log });
    stops.push(() => planner.stop());
    console.log(`• planner: ${planner.description}`);
    console.log(`\nDATABASE_URL=${connectionString}\nTICKWISE_URL=${gateway.url} TICKWISE_API_KEY=${dev.key}\nRuns appear at once; a status line follows every ${STATUS_EVERY_MS / 1000}s. Ctrl-C stops everything.\n`);

    const status = setInterval(() => {
      overview(pool)
        .then((now) => {
          const stats = node.getStats();
          const planned = planner.planner.stats;
          console.log(
            `runs in the last hour: ${now.runsLastHour} (${now.failuresLastHour} failed) · dispatched by this node: ${stats.dispatched} · due now: ${now.dueNow} · paused: ${now.paused} · planner: ${planned.analyses} analyses, ${planned.hintChanges} hint changes`,
          );
        })
        .catch((error: Error) => log.warn('status query failed', { error: error.message }));
    }, STATUS_EVERY_MS);
    stops.push(async () => clearInterval(status));

    const signal = await untilSignal(log);
    console.log(`\n${signal}: stopping (leases handed back, database stopped)…`);
    await stopAll();
    console.log('stopped.');
    return 0;
  } catch (error) {
    await stopAll();
    throw error;
  }
}
