import { startPlannerService } from '@tickwise/planner';
import { loggerFor, requireDatabaseUrl, type CliSettings } from '../settings.ts';
import { openPool, requireCurrentSchema, untilSignal } from './common.ts';

/** The planner until SIGINT/SIGTERM: run events in, hints out. Schedulers do not depend on it. */
export async function plannerCommand(settings: CliSettings, env: NodeJS.ProcessEnv): Promise<number> {
  const log = loggerFor(settings, 'planner');
  const connectionString = requireDatabaseUrl(settings, 'planner');
  const pool = await openPool(settings, connectionString, log, 6);
  try {
    await requireCurrentSchema(pool);
    const service = await startPlannerService({ pool, connectionString, env, log });
    log.info('planner started', { planner: service.config.plannerId, how: service.description });
    const signal = await untilSignal(log);
    log.info('stopping', { signal });
    await service.stop();
    return 0;
  } finally {
    await pool.end();
  }
}
