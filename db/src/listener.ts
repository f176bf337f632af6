import pg from 'pg';
import { clientSafetyConfig, type ConnectionSafety } from './connection-safety.ts';

export const WAKE_CHANNEL = 'tickwise_wake';

export type ListenerStatus = 'listening' | 'reconnecting' | 'unsupported' | 'closed';

export interface ListenerOptions {
  connectionString: string;
  channels: readonly string[];
  onNotify: (channel: string, payload: string) => void;
  onStatus?: (status: ListenerStatus, error?: Error) => void;
  /** Longest wait between reconnect attempts. */
  maxBackoffMs?: number;
  /**
   * Connect and query timeouts and TCP keepalive (defaults where left out; pass the pool's,
   * `connectionSafetyOf(pool)`). Keepalive is what finds this quiet connection dead behind a silent
   * partition: it errors, and the listener reconnects once the network is back.
   */
  safety?: Partial<ConnectionSafety>;
}

export interface Listener {
  readonly status: ListenerStatus;
  close(): Promise<void>;
}

/**
 * A dedicated connection that LISTENs and re-LISTENs after the server or network drops it.
 * Where LISTEN is not supported (YugabyteDB before 2025.2.3 or with the flag off) it reports
 * `unsupported` once and stops: callers poll instead.
 */
export function startListener(options: ListenerOptions): Listener {
  let status: ListenerStatus = 'reconnecting';
  let client: pg.Client | undefined;
  let closed = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let backoff = 100;
  const maxBackoff = options.maxBackoffMs ?? 5_000;

  const setStatus = (next: ListenerStatus, error?: Error) => {
    if (status === next && !error) return;
    status = next;
    options.onStatus?.(next, error);
  };

  const scheduleReconnect = (error?: Error) => {
    if (closed) return;
    setStatus('reconnecting', error);
    retryTimer = setTimeout(connect, backoff);
    backoff = Math.min(maxBackoff, backoff * 2);
  };

  async function connect(): Promise<void> {
    if (closed) return;
    const next = new pg.Client({ connectionString: options.connectionString, application_name: 'tickwise-listener', ...clientSafetyConfig(options.safety) });
    client = next;
    let failed = false;
    const fail = (error?: Error) => {
      if (failed) return;
      failed = true;
      next.removeAllListeners('notification');
      next.end().catch(() => undefined);
      scheduleReconnect(error);
    };
    next.on('error', fail);
    next.on('end', () => fail());
    next.on('notification', (message) => options.onNotify(message.channel, message.payload ?? ''));
    try {
      await next.connect();
      for (const channel of options.channels) await next.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      if (closed) return void (await next.end().catch(() => undefined));
      backoff = 100;
      setStatus('listening');
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === '0A000' || /not supported/i.test((error as Error).message)) {
        failed = true;
        next.removeAllListeners();
        await next.end().catch(() => undefined);
        setStatus('unsupported', error as Error);
        return;
      }
      fail(error as Error);
    }
  }

  void connect();
  return {
    get status() {
      return status;
    },
    async close() {
      closed = true;
      clearTimeout(retryTimer);
      setStatus('closed');
      const current = client;
      if (current) {
        current.removeAllListeners();
        current.on('error', () => undefined);
        await current.end().catch(() => undefined);
      }
    },
  };
}

/**
 * Wakes sleeping scheduler nodes (the transaction's commit delivers it). Through tickwise_notify,
 * which on YugabyteDB swallows the error NOTIFY raises where it is unsupported.
 */
export async function notifyWake(db: Pick<pg.Pool, 'query'>, payload = ''): Promise<void> {
  await db.query('SELECT tickwise_notify($1, $2)', [WAKE_CHANNEL, payload]);
}
