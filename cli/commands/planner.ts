import { startPlannerService, type PlannerService } from '@tickwise/planner';
import { TickwiseError } from '@tickwise/platform';
import { databaseReachable, opsSettingsFromEnv, serveOps } from '../ops-server.ts';
import { loggerFor, requireDatabaseUrl, type CliSettings } from '../settings.ts';
import { openPool, requireCurrentSchema, untilSignal } from './common.ts';

/** The planner until SIGINT/SIGTERM, with its ops endpoints: run events in, hints out. Schedulers do not depend on it. */
export async function plannerCommand(settings: CliSettings, env: NodeJS.ProcessEnv): Promise<number> {
  const log = loggerFor(settings, 'planner');
  const connectionString = requireDatabaseUrl(settings, 'planner');
  const opsSettings = opsSettingsFromEnv(env);
  const pool = await openPool(settings, connectionString, log, 6);
  try {
    await requireCurrentSchema(pool);
    let service: PlannerService | undefined;
    // Up before the planner, so a taken port stops the command before it reads any event.
    const ops = await serveOps(opsSettings, async () => {
      if (!service?.planner.running) throw new TickwiseError('unavailable', service ? 'the planner is not running: its run-event source stopped' : 'the planner is starting');
      await databaseReachable(pool);
    }, log);
    try {
      service = await startPlannerService({ pool, connectionString, env, log });
      log.info('planner started', { planner: service.config.plannerId, how: service.description });
      const signal = await untilSignal(log);
      log.info('stopping', { signal });
      await service.stop();
      return 0;
    } finally {
      await ops?.close();
    }
  } finally {
    await pool.end();
  }
}
