import type { Pool } from '@tickwise/db';
import type { GatewayConfig } from '../config.ts';
import type { Logger } from '@tickwise/platform';
import type { WatchHub } from '../watch-hub.ts';
import type { WatchKeys } from '../watch-keys.ts';

/** What every service implementation is built from. */
export interface ServiceDeps {
  pool: Pool;
  log: Logger;
  config: GatewayConfig;
  hub: WatchHub;
  /** Ends the watches of revoked keys. */
  watchKeys: WatchKeys;
  now: () => Date;
}
