import { describe, expect, it } from 'vitest';
import { TickwiseError } from '@tickwise/platform';
import { readSettings, requireDatabaseUrl } from '../settings.ts';

describe('CLI settings', () => {
  it('has defaults for everything but the database', () => {
    const settings = readSettings({ TICKWISE_LOG_FORMAT: 'json' });
    expect(settings).toMatchObject({ databaseUrl: undefined, embeddedPort: 54329, syntheticPort: 8788, logLevel: 'info', logFormat: 'json' });
    expect(settings.dataDir).toMatch(/\.tickwise$/);
  });

  it.each([
    [{ TICKWISE_LOG_LEVEL: 'loud' }, 'TICKWISE_LOG_LEVEL must be debug, info, warn or error, got "loud"'],
    [{ TICKWISE_LOG_FORMAT: 'xml' }, 'TICKWISE_LOG_FORMAT must be json or pretty, got "xml"'],
    [{ TICKWISE_EMBEDDED_PG_PORT: '70000' }, 'TICKWISE_EMBEDDED_PG_PORT must be a port number (1-65535), got "70000"'],
    [{ TICKWISE_SYNTHETIC_PORT: 'eighty' }, 'TICKWISE_SYNTHETIC_PORT must be a port number (1-65535), got "eighty"'],
  ])('refuses %o', (env, message) => {
    expect(() => readSettings({ TICKWISE_LOG_FORMAT: 'json', ...env })).toThrow(new TickwiseError('invalid_config', message));
  });

  it('reads the database connection safety for every pool (TICKWISE_DB_*)', () => {
    expect(readSettings({ TICKWISE_LOG_FORMAT: 'json' }).connectionSafety).toEqual({ connectTimeoutMs: 5_000, queryTimeoutMs: 10_000, keepAliveMs: 5_000 });
    expect(readSettings({ TICKWISE_LOG_FORMAT: 'json', TICKWISE_DB_QUERY_TIMEOUT: '3s', TICKWISE_DB_CONNECT_TIMEOUT: '1s', TICKWISE_DB_KEEPALIVE: '2s' }).connectionSafety).toEqual({ connectTimeoutMs: 1_000, queryTimeoutMs: 3_000, keepAliveMs: 2_000 });
    expect(() => readSettings({ TICKWISE_LOG_FORMAT: 'json', TICKWISE_DB_QUERY_TIMEOUT: 'fast' })).toThrow(/^TICKWISE_DB_QUERY_TIMEOUT must be a duration/);
  });

  it('names DATABASE_URL when a command needs it', () => {
    expect(() => requireDatabaseUrl(readSettings({ TICKWISE_LOG_FORMAT: 'json' }), 'scheduler')).toThrow(/DATABASE_URL is not set: "tickwise scheduler" needs a database/);
  });
});

describe('the YugabyteDB smart driver settings', () => {
  const base = { TICKWISE_LOG_FORMAT: 'json' };

  it('are off unless TICKWISE_YB_LOAD_BALANCE asks for them', () => {
    expect(readSettings(base).smartDriver).toBeUndefined();
    expect(readSettings({ ...base, TICKWISE_YB_LOAD_BALANCE: 'false' }).smartDriver).toBeUndefined();
  });

  it('carry the mode, the topology keys and the refresh interval', () => {
    expect(
      readSettings({ ...base, TICKWISE_YB_LOAD_BALANCE: 'prefer-primary', TICKWISE_YB_TOPOLOGY_KEYS: 'aws.us-east-1.us-east-1a:1,aws.us-east-1.*:2', TICKWISE_YB_REFRESH_INTERVAL: '60' }).smartDriver,
    ).toEqual({ loadBalance: 'prefer-primary', topologyKeys: 'aws.us-east-1.us-east-1a:1,aws.us-east-1.*:2', refreshIntervalSeconds: 60 });
  });

  it.each([
    [{ TICKWISE_YB_LOAD_BALANCE: 'yes' }, 'TICKWISE_YB_LOAD_BALANCE must be false, true, any, only-primary, only-rr, prefer-primary, prefer-rr, got "yes"'],
    [{ TICKWISE_YB_LOAD_BALANCE: 'true', TICKWISE_YB_TOPOLOGY_KEYS: 'us-east-1a' }, 'TICKWISE_YB_TOPOLOGY_KEYS must be cloud.region.zone[:priority] entries separated by commas, got "us-east-1a"'],
    [{ TICKWISE_YB_TOPOLOGY_KEYS: 'aws.us-east-1.us-east-1a' }, 'TICKWISE_YB_TOPOLOGY_KEYS needs TICKWISE_YB_LOAD_BALANCE (e.g. true)'],
    [{ TICKWISE_YB_LOAD_BALANCE: 'true', TICKWISE_YB_REFRESH_INTERVAL: '900' }, 'TICKWISE_YB_REFRESH_INTERVAL must be whole seconds from 0 to 600, got "900"'],
  ])('refuse %o', (env, message) => {
    expect(() => readSettings({ ...base, ...env })).toThrow(new TickwiseError('invalid_config', message));
  });
});
