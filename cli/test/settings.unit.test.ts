import { describe, expect, it } from 'vitest';
import { readSettings, requireDatabaseUrl, UsageError } from '../settings.ts';

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
    expect(() => readSettings({ TICKWISE_LOG_FORMAT: 'json', ...env })).toThrow(new UsageError(message));
  });

  it('names DATABASE_URL when a command needs it', () => {
    expect(() => requireDatabaseUrl(readSettings({ TICKWISE_LOG_FORMAT: 'json' }), 'scheduler')).toThrow(/DATABASE_URL is not set: "tickwise scheduler" needs a database/);
  });
});
