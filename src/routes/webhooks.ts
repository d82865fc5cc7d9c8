// Webhook routes: register, list, read and delete endpoints, read their deliveries, send a test
// event. Each handler is one call to the webhook service.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ref } from '../../schemas/common.js';
import {
  CreateWebhookBodySchema,
  WebhookCreatedSchema,
  WebhookDeliveryListSchema,
  WebhookDeliverySchema,
  WebhookIdParamsSchema,
  WebhookListSchema,
  WebhookSchema,
} from '../../schemas/webhooks.js';
import type { WebhookService } from '../events/webhooks/service.js';
import { problems } from './responses.js';

export interface WebhookRoutesOptions {
  webhooks: WebhookService;
}

const tags = ['webhooks'];

export const webhookRoutes: FastifyPluginAsyncTypebox<WebhookRoutesOptions> = async (app, { webhooks }) => {
  app.post(
    '/v1/webhooks',
    {
      schema: {
        tags,
        operationId: 'createWebhook',
        summary: 'Register a webhook endpoint',
        description:
          'Lifecycle events (optionally only some `types`, only of sessions carrying every one of `labels`) are POSTed to `url` ' +
          'as Standard Webhooks (standardwebhooks.com): the event JSON as body, `webhook-id` (one per event and endpoint, the same on ' +
          'every retry), `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256>` with the secret. Any 2xx is success; ' +
          'redirects are not followed; an attempt times out after 10 s. Failures are retried with exponential backoff and jitter ' +
          '(first delay SESSIOND_WEBHOOK_RETRY_MS, doubling, at most 1 hour) for at least 24 hours, then given up; the next event ' +
          'waits for the one before, so each endpoint gets its events in seq order. Pending deliveries survive a restart or a crash. ' +
          'The answer carries the signing `secret`, this once.',
        body: ref(CreateWebhookBodySchema),
        response: {
          201: { ...ref(WebhookCreatedSchema), description: 'the endpoint and its secret (shown only here); Location names it' },
          ...problems('validation_failed', 'payload_too_large', 'unsupported_media_type', 'limit_exceeded'),
        },
      },
    },
    async (request, reply) => {
      const created = await webhooks.create(request.body);
      return reply.code(201).header('location', `/v1/webhooks/${created.id}`).send(created);
    },
  );

  app.get(
    '/v1/webhooks',
    {
      schema: {
        tags,
        operationId: 'listWebhooks',
        summary: 'List webhook endpoints, oldest first',
        response: { 200: { ...ref(WebhookListSchema), description: 'every registered endpoint (never a secret)' }, ...problems('unavailable') },
      },
    },
    async () => ({ items: webhooks.list() }),
  );

  app.get(
    '/v1/webhooks/:id',
    {
      schema: {
        tags,
        operationId: 'getWebhook',
        summary: 'Read a webhook endpoint (never its secret)',
        params: WebhookIdParamsSchema,
        response: { 200: { ...ref(WebhookSchema), description: 'the endpoint' }, ...problems('webhook_not_found', 'validation_failed') },
      },
    },
    async (request) => webhooks.get(request.params.id),
  );

  app.delete(
    '/v1/webhooks/:id',
    {
      schema: {
        tags,
        operationId: 'deleteWebhook',
        summary: 'Delete a webhook endpoint',
        description: 'Its pending deliveries are dropped and nothing more is sent to it.',
        params: WebhookIdParamsSchema,
        response: { 204: Type.Null({ description: 'deleted' }), ...problems('webhook_not_found', 'validation_failed') },
      },
    },
    async (request, reply) => {
      await webhooks.remove(request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/v1/webhooks/:id/deliveries',
    {
      schema: {
        tags,
        operationId: 'listWebhookDeliveries',
        summary: 'Read the latest delivery attempts of a webhook endpoint',
        description: 'At most the last 100 attempts, newest first: event seq, time, status code or error, outcome, next retry.',
        params: WebhookIdParamsSchema,
        response: { 200: { ...ref(WebhookDeliveryListSchema), description: 'the latest attempts, newest first' }, ...problems('webhook_not_found', 'validation_failed') },
      },
    },
    async (request) => webhooks.deliveries(request.params.id),
  );

  app.post(
    '/v1/webhooks/:id/test',
    {
      schema: {
        tags,
        operationId: 'testWebhook',
        summary: 'Send a webhook.test event to an endpoint now',
        description:
          'Sends `{ "seq": 0, "type": "webhook.test", "time": "...", "session": null }` (WebhookTestEvent), signed like every ' +
          'delivery but with a webhook-id of its own, once, at once, beside the ordered queue (it neither waits for nor holds up ' +
          'pending events). Answers the attempt: `succeeded` on a 2xx, otherwise `gave_up` with the status code or error ' +
          '(a test is not retried). The attempt also appears in the deliveries. No body.',
        params: WebhookIdParamsSchema,
        response: { 200: { ...ref(WebhookDeliverySchema), description: 'the attempt: succeeded or gave_up' }, ...problems('webhook_not_found', 'validation_failed', 'unavailable') },
      },
    },
    async (request) => webhooks.test(request.params.id),
  );
};
