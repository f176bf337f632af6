import { claimDeliveries, nextDeliveryAt, recordDelivery, releaseDeliveries, tenantSigningSecrets, type ClaimedDelivery, type DeliveryOutcome, type Pool } from '@tickwise/db';
import type { Logger } from '@tickwise/platform';
import { notifyMetrics } from './metrics.ts';
import type { NotificationSender, SendResult } from './sender.ts';
import { retryDelayMs, type NotifySettings } from './settings.ts';
import { WakeUp } from '../wake-up.ts';

export interface DeliveryWorkerOptions {
  pool: Pool;
  /** Names this sender in the delivery leases. */
  owner: string;
  sender: Pick<NotificationSender, 'send'>;
  settings: Pick<NotifySettings, 'attempts' | 'backoffMs' | 'maxBackoffMs' | 'timeoutMs' | 'pollMs' | 'batch'>;
  log: Logger;
  random?: () => number;
}

/** What to record of an attempt: sent, tried again later, or given up. Pure. */
export function outcomeOf(result: SendResult, attempts: number, settings: DeliveryWorkerOptions['settings'], now: number, random: () => number): DeliveryOutcome {
  if (result.ok) return { status: 'sent', httpStatus: result.httpStatus };
  if (result.permanent || attempts >= settings.attempts) {
    const why = result.permanent ? result.error : `${result.error} (gave up after ${attempts} attempt${attempts === 1 ? '' : 's'})`;
    return { status: 'failed', httpStatus: result.httpStatus, error: why };
  }
  return { status: 'pending', httpStatus: result.httpStatus, error: result.error, retryAt: new Date(now + retryDelayMs(attempts, settings, result.retryAfterMs, random)) };
}

/**
 * Sends the pending deliveries, in the planner process (never on a scheduler's hot path). Takes
 * them under a lease with SKIP LOCKED, so several planners share the work and none sends a delivery
 * another holds; records each attempt (status, attempts, last error) and hands the lease back. A
 * delivery recorded `sent` is never taken again, across restarts. Woken at once by this process's
 * notices (`poke`) and by NOTIFY; otherwise it sleeps until the next retry is due, at most `pollMs`.
 */
export class DeliveryWorker {
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly wakeUp = new WakeUp();
  private readonly random: () => number;
  private readonly leaseMs: number;

  constructor(private readonly options: DeliveryWorkerOptions) {
    this.random = options.random ?? Math.random;
    // Long enough for every attempt of a batch sent in parallel, with room for the records.
    this.leaseMs = options.settings.timeoutMs + 30_000;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops taking deliveries; attempts in flight finish and are recorded first. */
  async stop(): Promise<void> {
    this.running = false;
    this.poke();
    await this.loop;
    await releaseDeliveries(this.options.pool, this.options.owner).catch(() => undefined);
  }

  poke(): void {
    this.wakeUp.poke();
  }

  private sleep(ms: number): Promise<void> {
    return this.wakeUp.sleep(ms, !this.running);
  }

  private async run(): Promise<void> {
    const { pool, owner, settings, log } = this.options;
    while (this.running) {
      try {
        const claimed = await claimDeliveries(pool, owner, settings.batch, this.leaseMs);
        if (claimed.length > 0) {
          await Promise.all(claimed.map((delivery) => this.deliver(delivery)));
          continue;
        }
        const next = await nextDeliveryAt(pool);
        await this.sleep(next === null ? settings.pollMs : Math.min(settings.pollMs, next.getTime() - Date.now()));
      } catch (error) {
        log.error('sending notifications failed; retrying', { error: (error as Error).message });
        await this.sleep(Math.min(settings.pollMs, 1_000));
      }
    }
  }

  private async deliver(delivery: ClaimedDelivery): Promise<void> {
    const { pool, owner, settings, log } = this.options;
    let result: SendResult;
    try {
      // Webhooks are signed with the tenant's own secrets when it has any (read at each attempt: a
      // rotation applies at once). Slack does not read signatures.
      const secrets = delivery.channel === 'webhook' ? await tenantSigningSecrets(pool, delivery.tenantId) : [];
      result = await this.options.sender.send(delivery, secrets);
    } catch (error) {
      result = { ok: false, permanent: false, httpStatus: null, error: `not sent: ${(error as Error).message}`, retryAfterMs: null };
    }
    const outcome = outcomeOf(result, delivery.attempts, settings, Date.now(), this.random);
    const recorded = await recordDelivery(pool, delivery.id, owner, outcome);
    const result_ = outcome.status === 'sent' ? 'sent' : outcome.status === 'failed' ? 'failed' : 'retry';
    notifyMetrics.deliveries.labels(delivery.kind, delivery.channel, result_).inc();
    const fields = { delivery: delivery.id, kind: delivery.kind, channel: delivery.channel, endpoint: delivery.endpointId, attempt: delivery.attempts };
    if (!recorded) log.warn('a notification delivery was taken over before its attempt was recorded', fields);
    else if (outcome.status === 'sent') log.info('notification sent', { ...fields, http_status: outcome.httpStatus });
    else if (outcome.status === 'failed') log.warn('notification delivery failed: giving up', { ...fields, error: outcome.error });
    else log.info('notification delivery failed: will retry', { ...fields, error: outcome.error, retry_at: outcome.retryAt.toISOString() });
  }
}
