import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { notifyWake, startListener, WAKE_CHANNEL, type Listener, type ListenerStatus } from '@tickwise/db';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.ts';
import { sleep, waitFor } from '../../test/support/wait.ts';

describe('startListener', () => {
  let db: TestDatabase;
  let listener: Listener | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterEach(async () => {
    await listener?.close();
    listener = undefined;
  });
  afterAll(async () => {
    await db.drop();
  });

  function listen(channels: readonly string[] = [WAKE_CHANNEL]) {
    const received: { channel: string; payload: string }[] = [];
    const statuses: ListenerStatus[] = [];
    listener = startListener({
      connectionString: db.url,
      channels,
      onNotify: (channel, payload) => received.push({ channel, payload }),
      onStatus: (status) => statuses.push(status),
      maxBackoffMs: 200,
    });
    return { listener, received, statuses };
  }

  async function listenerPids(): Promise<number[]> {
    const { rows } = await db.pool.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'tickwise-listener'",
    );
    return rows.map((row) => row.pid);
  }

  it('receives the payload of notifyWake', async () => {
    const { listener: started, received, statuses } = listen();
    await waitFor('listening', () => started.status === 'listening');
    expect(statuses).toEqual(['listening']);
    await notifyWake(db.pool, 'endpoint-42');
    await waitFor('the notification', () => received.length >= 1);
    expect(received).toEqual([{ channel: WAKE_CHANNEL, payload: 'endpoint-42' }]);
    // An empty payload arrives as the empty string.
    await notifyWake(db.pool);
    await waitFor('the second notification', () => received.length >= 2);
    expect(received[1]).toEqual({ channel: WAKE_CHANNEL, payload: '' });
  });

  it('listens on every channel it was given, and only on those', async () => {
    const { listener: started, received } = listen(['tickwise_wake', 'Other Channel']);
    await waitFor('listening', () => started.status === 'listening');
    await db.pool.query("SELECT pg_notify('not_listened', 'lost'), pg_notify('Other Channel', 'b'), pg_notify('tickwise_wake', 'a')");
    await waitFor('two notifications', () => received.length >= 2);
    // A marker sent after the lost one: once it is in, the lost one would have been too.
    await db.pool.query("SELECT pg_notify('tickwise_wake', 'marker')");
    await waitFor('the marker', () => received.some((message) => message.payload === 'marker'));
    expect(received).toEqual([
      { channel: 'Other Channel', payload: 'b' },
      { channel: 'tickwise_wake', payload: 'a' },
      { channel: 'tickwise_wake', payload: 'marker' },
    ]);
  });

  it('reconnects after its connection is killed and receives later notifications', async () => {
    const { listener: started, received, statuses } = listen();
    await waitFor('listening', () => started.status === 'listening');
    const [pid] = await waitFor('the listener connection', async () => {
      const pids = await listenerPids();
      return pids.length === 1 ? pids : undefined;
    });

    const { rows } = await db.pool.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [pid]);
    expect(rows[0]!.ok).toBe(true);
    await waitFor('reconnecting', () => statuses.includes('reconnecting'));
    await waitFor('listening again', () => statuses.lastIndexOf('listening') > statuses.indexOf('reconnecting'));
    expect(statuses.slice(0, 3)).toEqual(['listening', 'reconnecting', 'listening']);
    expect(started.status).toBe('listening');
    const pids = await listenerPids();
    expect(pids.length).toBe(1);
    expect(pids[0]).not.toBe(pid);

    await notifyWake(db.pool, 'after-reconnect');
    await waitFor('the notification after the reconnect', () => received.some((message) => message.payload === 'after-reconnect'));
    expect(received.map((message) => message.payload)).toEqual(['after-reconnect']);
  });

  it('keeps trying while the database refuses connections, then listens', async () => {
    const name = new URL(db.url).pathname.slice(1);
    const allowConnections = async (allow: boolean) => {
      const admin = new pg.Client({ connectionString: inject('adminUrl') });
      await admin.connect();
      try {
        await admin.query(`ALTER DATABASE ${admin.escapeIdentifier(name)} WITH ALLOW_CONNECTIONS ${allow}`);
      } finally {
        await admin.end();
      }
    };
    await allowConnections(false);
    try {
      const { listener: started, statuses } = listen();
      await waitFor('two failed attempts', () => statuses.filter((status) => status === 'reconnecting').length >= 2);
      expect(started.status).toBe('reconnecting');
      expect(statuses.every((status) => status === 'reconnecting')).toBe(true);
      await allowConnections(true);
      await waitFor('listening', () => started.status === 'listening');
      expect(statuses.at(-1)).toBe('listening');
    } finally {
      await allowConnections(true);
    }
  });

  it('stops on close(): status closed, connection gone, no more notifications', async () => {
    const { listener: started, received, statuses } = listen();
    await waitFor('listening', () => started.status === 'listening');
    await started.close();
    expect(started.status).toBe('closed');
    expect(statuses.at(-1)).toBe('closed');
    await waitFor('the listener connection to go', async () => (await listenerPids()).length === 0);
    await notifyWake(db.pool, 'too-late');
    // Wait for a notification on a fresh listener: by then the closed one would have had its own.
    const second = listen();
    await waitFor('the second listener', () => second.listener.status === 'listening');
    await notifyWake(db.pool, 'probe');
    await waitFor('the probe', () => second.received.length >= 1);
    expect(received).toEqual([]);
    expect(started.status).toBe('closed');
  });

  it('stays closed when closed while it was still connecting', async () => {
    const { listener: started, statuses } = listen();
    await started.close();
    expect(started.status).toBe('closed');
    // Let the connection attempt that was under way settle, then check that nothing is left of it.
    await sleep(500);
    expect(await listenerPids()).toEqual([]);
    expect(statuses).toEqual(['closed']);
    expect(started.status).toBe('closed');
  });
});
