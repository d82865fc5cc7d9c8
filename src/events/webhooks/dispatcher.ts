// The delivery worker of one endpoint: takes the head of its outbox, POSTs it, and only moves on
// once it succeeded (any 2xx) or was given up, so the endpoint sees its events in seq order.
// A failure is retried on the backoff schedule; the retry state is in the outbox, so a restart
// keeps the schedule and the 24-hour window. Every attempt goes to the deliveries log.
import { randomBytes } from 'node:crypto';
import type { LifecycleEvent } from '../../../schemas/events.js';
import type { DeliveryOutcome, WebhookDelivery, WebhookRecord } from '../../../schemas/webhooks.js';
import { Wakeup } from '../../logs/wakeup.js';
import { nextRetryAt, type BackoffOptions } from './backoff.js';
import type { DeliveryLog } from './delivery-log.js';
import type { Outbox, PendingDelivery } from './outbox.js';
import { isSuccess, sendWebhook, type SendResult } from './sender.js';
import { maskUrl } from './url.js';

export interface DispatchLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface DispatchSettings {
  backoff: BackoffOptions & { windowMs: number };
  timeoutMs: number;
  clock: () => Date;
  log: DispatchLog;
  /** Called once per recorded attempt (metrics: sessiond_webhook_deliveries_total{outcome}). */
  onAttempt?: (outcome: DeliveryOutcome) => void;
}

/** The webhook-id of an event for an endpoint: the same on every retry and after a restart. */
export const messageIdFor = (webhookId: string, seq: number) => `msg_${webhookId}_${seq}`;

export const newDeliveryId = () => `dlv_${randomBytes(12).toString('hex')}`;

/** Waits this long before touching the outbox again after a disk error. */
const DISK_ERROR_PAUSE_MS = 1000;
/** setTimeout's limit is about 24.8 days; a longer wait is slept in steps. */
const MAX_SLEEP_MS = 60 * 60 * 1000;

export class EndpointDispatcher {
  private readonly wakeup = new Wakeup();
  private readonly abort = new AbortController();
  private stopped = false;
  private loop: Promise<void> | null = null;

  constructor(
    private readonly record: WebhookRecord,
    private readonly outbox: Outbox,
    private readonly deliveries: DeliveryLog,
    private readonly settings: DispatchSettings,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  /** Something was enqueued. */
  wake(): void {
    this.wakeup.wake();
  }

  /** Ends the loop; an attempt under way is cut off and not recorded (it is made again at the next start). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    this.wakeup.wake();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const head = this.outbox.head();
      if (!head) {
        await this.wakeup.sleep(Infinity);
        continue;
      }
      const wait = head.nextAttemptAt ? Date.parse(head.nextAttemptAt) - this.settings.clock().getTime() : 0;
      if (wait > 0) {
        await this.wakeup.sleep(Math.min(wait, MAX_SLEEP_MS));
        continue;
      }
      try {
        await this.attempt(head);
      } catch (err) {
        // The outbox could not be written (disk full, say): nothing is lost, the head stays the
        // head; pause so a broken disk is not hammered.
        this.settings.log.error({ err, webhook_id: this.record.id, seq: head.seq }, 'webhook outbox write failed; retrying');
        await this.wakeup.sleep(DISK_ERROR_PAUSE_MS);
      }
    }
  }

  private async attempt(head: PendingDelivery): Promise<void> {
    const { clock, backoff, log } = this.settings;
    const messageId = messageIdFor(this.record.id, head.seq);
    const at = clock();
    const result = await sendWebhook({
      url: this.record.url,
      secret: this.record.secret,
      messageId,
      body: JSON.stringify(head.event),
      at,
      timeoutMs: this.settings.timeoutMs,
      signal: this.abort.signal,
    });
    if (result.aborted || this.stopped) return;

    const attempt = head.attempts + 1;
    const firstAttemptAt = head.firstAttemptAt ?? at.toISOString();
    let outcome: DeliveryOutcome;
    let retryAt: string | null = null;
    if (isSuccess(result.statusCode)) {
      outcome = 'succeeded';
      await this.outbox.done(head.seq);
    } else {
      const next = nextRetryAt(attempt, Date.parse(firstAttemptAt), at.getTime(), clock().getTime(), backoff);
      if (next === null) {
        outcome = 'gave_up';
        await this.outbox.done(head.seq);
      } else {
        outcome = 'failed';
        retryAt = new Date(next).toISOString();
        await this.outbox.retry(head.seq, attempt, firstAttemptAt, retryAt);
      }
    }
    const delivery = toDelivery(this.record.id, head.event, messageId, attempt, at, result, outcome, retryAt);
    await this.recordAttempt(delivery);
    if (outcome !== 'succeeded') {
      const fields = { webhook_id: this.record.id, url: maskUrl(this.record.url), seq: head.seq, attempt, status_code: result.statusCode, error: result.error };
      if (outcome === 'gave_up') log.warn(fields, 'webhook delivery given up');
      else log.info({ ...fields, next_retry_at: retryAt }, 'webhook delivery failed; will retry');
    }
  }

  private async recordAttempt(delivery: WebhookDelivery): Promise<void> {
    this.settings.onAttempt?.(delivery.outcome);
    try {
      await this.deliveries.record(delivery);
    } catch (err) {
      // The log is for people to read; the delivery itself is settled in the outbox already.
      this.settings.log.error({ err, webhook_id: this.record.id }, 'webhook deliveries log write failed');
    }
  }
}

export function toDelivery(
  webhookId: string,
  event: Pick<LifecycleEvent, 'seq' | 'type'> | { seq: 0; type: 'webhook.test' },
  messageId: string,
  attempt: number,
  at: Date,
  result: SendResult,
  outcome: DeliveryOutcome,
  nextRetryAt: string | null,
): WebhookDelivery {
  return {
    id: newDeliveryId(),
    webhook_id: webhookId,
    event_seq: event.seq,
    event_type: event.type,
    message_id: messageId,
    attempt,
    attempted_at: at.toISOString(),
    status_code: result.statusCode,
    error: result.error,
    outcome,
    next_retry_at: nextRetryAt,
    duration_ms: result.durationMs,
  };
}
