import { userInfo } from 'node:os';
import type { AuditActor } from '@tickwise/catalog';

/**
 * Who makes a change with a command run on the database (`apply` without TICKWISE_URL, `keys`,
 * `dev`): there is no API key, so the audit trail names the OS user the command ran as.
 */
export function databaseActor(action: string, env: NodeJS.ProcessEnv = process.env): AuditActor {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry for the uid (a container run as an arbitrary uid).
    user = env.USER ?? env.LOGNAME ?? `uid ${process.getuid?.() ?? 'unknown'}`;
  }
  return { actorKeyId: null, actor: `cli (database) as ${user}`, via: 'cli', action };
}
