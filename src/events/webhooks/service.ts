// The webhook service the routes call: registers, lists and deletes endpoints, answers their
// deliveries, sends test events; and runs the pipeline journal -> enqueuer -> one outbox and one
// dispatcher per endpoint. Delivery is at least once, in seq order per endpoint; nothing pending
// is lost to a restart or a crash (see enqueuer.ts and outbox.ts for how).
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type {
  CreateWebhookBody,
  DeliveryOutcome,
  Webhook,
  WebhookCreated,
  WebhookDelivery,
  WebhookDeliveryList,
  WebhookRecord,
  WebhookTestEvent,
} from '../../../schemas/webhooks.js';
import { WEBHOOK_TEST_TYPE } from '../../../schemas/webhooks.js';
import { SessionError } from '../../sessions/errors.js';
import type { EventJournal } from '../journal.js';
import { DEFAULT_FIRST_RETRY_MS, DEFAULT_MAX_RETRY_DELAY_MS, DEFAULT_RETRY_WINDOW_MS } from './backoff.js';
import { DeliveryLog } from './delivery-log.js';
import { EndpointDispatcher, toDelivery, type DispatchLog, type DispatchSettings } from './dispatcher.js';
import { Enqueuer } from './enqueuer.js';
import { Outbox } from './outbox.js';
import {
  DELIVERIES_FILE,
  OUTBOX_FILE,
  endpointDir,
  loadEndpoints,
  newWebhookId,
  removeEndpoint,
  saveEndpoint,
  toWebhook,
  webhooksRoot,
} from './registry.js';
import { createSecret } from './signer.js';
import { DEFAULT_DELIVERY_TIMEOUT_MS, isSuccess, sendWebhook } from './sender.js';
import { maskUrl, parseWebhookUrl } from './url.js';

export const DEFAULT_MAX_WEBHOOKS = 100;

export interface WebhookServiceOptions {
  /** The file store's root; webhooks live in `<dataDir>/webhooks/`. */
  dataDir: string;
  /** Initialised before init() is called; read, never appended to. */
  journal: EventJournal;
  log: DispatchLog;
  /** First retry delay (SESSIOND_WEBHOOK_RETRY_MS); doubles per failure. Default 5000. */
  firstRetryMs?: number;
  /** Longest wait between two attempts. Default 1 hour. */
  maxRetryDelayMs?: number;
  /** Retries go on at least this long after the first attempt, then the event is given up. Default 24 hours. */
  retryWindowMs?: number;
  /** One attempt's limit. Default 10 s. */
  timeoutMs?: number;
  /** Endpoints that may exist at once. Default 100. */
  maxWebhooks?: number;
  /** Called for every attempt (queued and test), e.g. to count sessiond_webhook_deliveries_total{outcome}. */
  onAttempt?: (outcome: DeliveryOutcome) => void;
  clock?: () => Date;
}

export interface WebhookService {
  /** Loads endpoints and outboxes, subscribes to the journal, enqueues what it missed, starts delivering. */
  init(): Promise<void>;
  create(body: CreateWebhookBody): Promise<WebhookCreated>;
  /** Oldest first. */
  list(): Webhook[];
  /** @throws SessionError webhook_not_found */
  get(id: string): Webhook;
  /** Stops its deliveries and removes its files. @throws SessionError webhook_not_found */
  remove(id: string): Promise<void>;
  /** The latest attempts, newest first. @throws SessionError webhook_not_found */
  deliveries(id: string): WebhookDeliveryList;
  /** Sends a `webhook.test` event now, outside the ordered queue, once. @throws SessionError webhook_not_found */
  test(id: string): Promise<WebhookDelivery>;
  /** The journal seq through which every event is in the outboxes. */
  enqueuedThrough(): number;
  /** Stops delivering (attempts under way are cut off and made again at the next start). Writes nothing. */
  close(): Promise<void>;
}

interface Endpoint {
  record: WebhookRecord;
  outbox: Outbox;
  deliveries: DeliveryLog;
  dispatcher: EndpointDispatcher;
  wake(): void;
}

export const webhookNotFound = (id: string) => new SessionError('webhook_not_found', `no webhook with id ${id}`);

export function createWebhookService(options: WebhookServiceOptions): WebhookService {
  const root = webhooksRoot(options.dataDir);
  const clock = options.clock ?? (() => new Date());
  const log = options.log;
  const timeoutMs = options.timeoutMs ?? DEFAULT_DELIVERY_TIMEOUT_MS;
  const settings: DispatchSettings = {
    backoff: {
      firstRetryMs: options.firstRetryMs ?? DEFAULT_FIRST_RETRY_MS,
      maxDelayMs: options.maxRetryDelayMs ?? DEFAULT_MAX_RETRY_DELAY_MS,
      windowMs: options.retryWindowMs ?? DEFAULT_RETRY_WINDOW_MS,
    },
    timeoutMs,
    clock,
    log,
    onAttempt: options.onAttempt,
  };
  const endpoints = new Map<string, Endpoint>();
  /** Test sends under way and their endpoint, so delete and close can cut them off. */
  const tests = new Map<AbortController, string>();
  const enqueuer = new Enqueuer({ journal: options.journal, root, targets: () => endpoints.values(), log });
  let closed = false;

  async function open(record: WebhookRecord): Promise<Endpoint> {
    const dir = endpointDir(root, record.id);
    const outbox = await Outbox.open(join(dir, OUTBOX_FILE), log);
    const deliveries = await DeliveryLog.open(join(dir, DELIVERIES_FILE));
    const dispatcher = new EndpointDispatcher(record, outbox, deliveries, settings);
    return { record, outbox, deliveries, dispatcher, wake: () => dispatcher.wake() };
  }

  function find(id: string): Endpoint {
    const endpoint = endpoints.get(id);
    if (!endpoint) throw webhookNotFound(id);
    return endpoint;
  }

  return {
    async init() {
      await mkdir(root, { recursive: true, mode: 0o700 });
      for (const record of await loadEndpoints(root, log)) endpoints.set(record.id, await open(record));
      await enqueuer.start();
      for (const endpoint of endpoints.values()) endpoint.dispatcher.start();
      const pending = [...endpoints.values()].reduce((n, e) => n + e.outbox.size, 0);
      log.info({ webhooks: endpoints.size, pending }, 'webhooks ready');
    },

    async create(body) {
      const url = parseWebhookUrl(body.url);
      // Between two drains of the journal: every event after after_seq is read with this endpoint
      // among the targets, and a crash after the save re-reads from a cursor at most after_seq.
      const record = await enqueuer.exclusive(async () => {
        const limit = options.maxWebhooks ?? DEFAULT_MAX_WEBHOOKS;
        if (endpoints.size >= limit) throw new SessionError('limit_exceeded', `at most ${limit} webhooks may exist; delete one first`);
        const record: WebhookRecord = {
          id: newWebhookId(),
          url,
          types: body.types ? [...body.types] : null,
          labels: { ...(body.labels ?? {}) },
          description: body.description ?? null,
          created_at: clock().toISOString(),
          secret: createSecret(),
          after_seq: options.journal.lastSeq(),
        };
        await saveEndpoint(root, record);
        const endpoint = await open(record);
        endpoints.set(record.id, endpoint);
        endpoint.dispatcher.start();
        return record;
      });
      log.info({ webhook_id: record.id, url: maskUrl(url), types: record.types, labels: record.labels }, 'webhook created');
      return { ...toWebhook(record), secret: record.secret };
    },

    list() {
      return [...endpoints.values()].map((e) => toWebhook(e.record));
    },

    get(id) {
      return toWebhook(find(id).record);
    },

    async remove(id) {
      const endpoint = find(id);
      // Gone for the enqueuer at once; then no attempt is running and no write is under way.
      endpoints.delete(id);
      for (const [abort, testedId] of tests) if (testedId === id) abort.abort();
      await endpoint.dispatcher.stop();
      await endpoint.outbox.close();
      await endpoint.deliveries.close();
      await removeEndpoint(root, id);
      log.info({ webhook_id: id, url: maskUrl(endpoint.record.url) }, 'webhook deleted');
    },

    deliveries(id) {
      return { items: find(id).deliveries.list() };
    },

    async test(id) {
      const endpoint = find(id);
      const at = clock();
      const event: WebhookTestEvent = { seq: 0, type: WEBHOOK_TEST_TYPE, time: at.toISOString(), session: null };
      // Its own webhook-id per test: a receiver that dedupes by webhook-id must not drop the second test.
      const messageId = `msg_${id}_test_${randomBytes(8).toString('hex')}`;
      const abort = new AbortController();
      tests.set(abort, id);
      try {
        const result = await sendWebhook({
          url: endpoint.record.url,
          secret: endpoint.record.secret,
          messageId,
          body: JSON.stringify(event),
          at,
          timeoutMs,
          signal: abort.signal,
        });
        if (result.aborted) throw new SessionError('unavailable', 'the service is shutting down or the webhook was deleted');
        // A test is tried once: a failure is final.
        const delivery = toDelivery(id, event, messageId, 1, at, result, isSuccess(result.statusCode) ? 'succeeded' : 'gave_up', null);
        options.onAttempt?.(delivery.outcome);
        // The endpoint may have been deleted during the attempt: then there is no log to write to.
        if (endpoints.get(id) === endpoint) await endpoint.deliveries.record(delivery);
        return delivery;
      } finally {
        tests.delete(abort);
      }
    },

    enqueuedThrough() {
      return enqueuer.enqueuedThrough;
    },

    async close() {
      if (closed) return;
      closed = true;
      for (const abort of tests.keys()) abort.abort();
      await enqueuer.close();
      await Promise.all([...endpoints.values()].map((e) => e.dispatcher.stop()));
      await Promise.all([...endpoints.values()].flatMap((e) => [e.outbox.close(), e.deliveries.close()]));
    },
  };
}
