import { checkSecretsKeys } from '@tickwise/catalog';
import { describeConfig, SchedulerNode, schedulerConfigFromEnv } from '@tickwise/scheduler';
import { describeTargetPolicy, TickwiseError } from '@tickwise/platform';
import { databaseReachable, opsSettingsFromEnv, serveOps } from '../ops-server.ts';
import { loggerFor, requireDatabaseUrl, type CliSettings } from '../settings.ts';
import { openPool, requireCurrentSchema, untilSignal } from './common.ts';

/** One scheduler node until SIGINT/SIGTERM, with its ops endpoints; run several processes for several nodes. */
export async function schedulerCommand(settings: CliSettings, env: NodeJS.ProcessEnv): Promise<number> {
  const log = loggerFor(settings, 'scheduler');
  const connectionString = requireDatabaseUrl(settings, 'scheduler');
  const config = schedulerConfigFromEnv(env);
  const opsSettings = opsSettingsFromEnv(env);
  const pool = await openPool(settings, connectionString, log, 8);
  try {
    await requireCurrentSchema(pool);
    // A node that could not decrypt the secrets calls use says so now, not at its first call.
    const { secrets } = await checkSecretsKeys(pool, config.secretsKeys, { decrypts: true });
    if (secrets > 0) log.info('secrets', { stored: secrets, key: config.secretsKeys.current?.id });
    else if (!config.secretsKeys.current) log.warn('TICKWISE_SECRETS_KEY is not set: no secret is stored yet, but once one is, calls that use it fail (secret_missing) until this node has the key');
    const node = new SchedulerNode({ pool, connectionString, config, log });
    // Up before the node, so a taken port stops the command before it claims anything.
    const ops = await serveOps(opsSettings, async () => {
      if (!node.running) throw new TickwiseError('unavailable', 'the scheduler node is not running (starting or stopping)');
      await databaseReachable(pool);
    }, log);
    try {
      node.start();
      log.info('scheduler node started', { worker: config.workerId, config: describeConfig(config), targets: describeTargetPolicy(config.targetPolicy) });
      const signal = await untilSignal(log);
      log.info('stopping', { signal });
      await node.stop();
      return 0;
    } finally {
      await ops?.close();
    }
  } finally {
    await pool.end();
  }
}
