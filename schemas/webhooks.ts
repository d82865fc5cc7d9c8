// Webhooks: the endpoint resource, its create body, delivery attempts, the test event, and the
// shapes kept on disk (endpoint record with its secret, outbox rows), which are never sent as is.
import { Type, type Static } from '@sinclair/typebox';
import { Nullable, Timestamp, ref } from './common.js';
import { EVENT_TYPES, type LifecycleEvent } from './events.js';
import { LabelsSchema } from './labels.js';
import './value-registry.js';

export const WEBHOOK_URL_MAX = 2048;
export const WEBHOOK_DESCRIPTION_MAX = 500;
/** `wh_` and 20 base36 characters: safe as a folder name and inside a webhook-id (no `.`). */
export const WEBHOOK_ID_PATTERN = '^wh_[a-z0-9]{20}$';
export const WEBHOOK_TEST_TYPE = 'webhook.test';

/**
 * LabelsSchema with keys that miss the key pattern refused: LabelsSchema's patternProperties alone
 * would let `{ "Bad Key": 1 }` through, since a key no pattern matches is not checked at all.
 */
const StrictLabels = (description: string) => ({ ...LabelsSchema, additionalProperties: false, description });

const WebhookEventTypeSchema = Type.Unsafe<(typeof EVENT_TYPES)[number]>({ type: 'string', enum: [...EVENT_TYPES] });

export const CreateWebhookBodySchema = Type.Object(
  {
    url: Type.String({
      minLength: 1,
      maxLength: WEBHOOK_URL_MAX,
      pattern: '^[Hh][Tt][Tt][Pp][Ss]?://',
      description:
        'an http or https URL that receives a POST per event. Credentials in it (`https://user:pass@host/`) are sent as HTTP Basic ' +
        'authentication and shown as `***` in every answer and log line',
    }),
    types: Type.Optional(
      Type.Array(WebhookEventTypeSchema, {
        minItems: 1,
        maxItems: EVENT_TYPES.length,
        uniqueItems: true,
        description: 'only these event types; absent: every type',
      }),
    ),
    labels: Type.Optional(StrictLabels('only events whose session carries every one of these labels; absent: any session')),
    description: Type.Optional(Type.String({ maxLength: WEBHOOK_DESCRIPTION_MAX })),
  },
  { $id: 'CreateWebhookBody', additionalProperties: false },
);
export type CreateWebhookBody = Static<typeof CreateWebhookBodySchema>;

const webhookFields = {
  id: Type.String({ pattern: WEBHOOK_ID_PATTERN }),
  url: Type.String({ description: 'the endpoint, with any user:password replaced by `***`' }),
  types: Nullable(Type.Array(WebhookEventTypeSchema, { description: 'the event types delivered; null: every type' })),
  labels: StrictLabels('labels an event’s session must all carry to be delivered; {} for any'),
  description: Nullable(Type.String()),
  created_at: Timestamp,
};

export const WebhookSchema = Type.Object(webhookFields, { $id: 'Webhook', additionalProperties: false });
export type Webhook = Static<typeof WebhookSchema>;

export const WebhookCreatedSchema = Type.Object(
  {
    ...webhookFields,
    secret: Type.String({
      description:
        'the signing secret (`whsec_` + base64 of 32 random bytes), shown in this answer only: keep it to verify `webhook-signature` (Standard Webhooks)',
    }),
  },
  { $id: 'WebhookCreated', additionalProperties: false },
);
export type WebhookCreated = Static<typeof WebhookCreatedSchema>;

export const WebhookListSchema = Type.Object({ items: Type.Array(ref(WebhookSchema), { description: 'oldest first' }) }, { $id: 'WebhookList' });
export type WebhookList = Static<typeof WebhookListSchema>;

export const DELIVERY_OUTCOMES = ['succeeded', 'failed', 'gave_up'] as const;
export const DeliveryOutcomeSchema = Type.Unsafe<(typeof DELIVERY_OUTCOMES)[number]>({
  type: 'string',
  enum: [...DELIVERY_OUTCOMES],
  description: 'succeeded: a 2xx answer; failed: anything else, retried at next_retry_at; gave_up: failed and no more retries (or a test attempt that failed)',
});
export type DeliveryOutcome = Static<typeof DeliveryOutcomeSchema>;

export const WebhookDeliverySchema = Type.Object(
  {
    id: Type.String({ description: 'this attempt' }),
    webhook_id: Type.String(),
    event_seq: Type.Integer({ minimum: 0, description: 'the event’s seq; 0 for a test event' }),
    event_type: Type.Unsafe<(typeof EVENT_TYPES)[number] | typeof WEBHOOK_TEST_TYPE>({
      type: 'string',
      enum: [...EVENT_TYPES, WEBHOOK_TEST_TYPE],
    }),
    message_id: Type.String({ description: 'the webhook-id header: one per event and endpoint, the same on every retry' }),
    attempt: Type.Integer({ minimum: 1, description: '1 for the first attempt of this message' }),
    attempted_at: Timestamp,
    status_code: Nullable(Type.Integer({ description: 'the receiver’s HTTP status; null when no answer came' })),
    error: Nullable(Type.String({ description: 'why there was no answer (timeout, connection refused...), or null' })),
    outcome: DeliveryOutcomeSchema,
    next_retry_at: Nullable(Timestamp),
    duration_ms: Type.Integer({ minimum: 0 }),
  },
  { $id: 'WebhookDelivery', additionalProperties: false },
);
export type WebhookDelivery = Static<typeof WebhookDeliverySchema>;

export const WebhookDeliveryListSchema = Type.Object(
  { items: Type.Array(ref(WebhookDeliverySchema), { description: 'the latest attempts (at most 100), newest first' }) },
  { $id: 'WebhookDeliveryList' },
);
export type WebhookDeliveryList = Static<typeof WebhookDeliveryListSchema>;

export const WebhookTestEventSchema = Type.Object(
  {
    seq: Type.Literal(0, { description: 'always 0: no lifecycle event has seq 0' }),
    type: Type.Literal(WEBHOOK_TEST_TYPE),
    time: Timestamp,
    session: Type.Null(),
  },
  {
    $id: 'WebhookTestEvent',
    additionalProperties: false,
    description: 'the body POST /v1/webhooks/{id}/test sends: a lifecycle event’s keys with seq 0 and no session',
  },
);
export type WebhookTestEvent = Static<typeof WebhookTestEventSchema>;

export const WebhookIdParamsSchema = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64, description: 'webhook id' }) });
export type WebhookIdParams = Static<typeof WebhookIdParamsSchema>;

// --- On disk only ---------------------------------------------------------------------------

/** `<dataDir>/webhooks/<id>/endpoint.json` (mode 0600): the resource with its raw URL and secret. */
export const WebhookRecordSchema = Type.Object(
  {
    ...webhookFields,
    url: Type.String({ maxLength: WEBHOOK_URL_MAX }),
    secret: Type.String({ pattern: '^whsec_[A-Za-z0-9+/]+={0,2}$' }),
    /** The journal's last seq when it was created: it gets the events after that one only. */
    after_seq: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type WebhookRecord = Static<typeof WebhookRecordSchema>;

/** What an outbox row carries: a lifecycle event (the supervisor wrote and checked it). */
const OutboxEventSchema = Type.Unsafe<LifecycleEvent>(Type.Object({ seq: Type.Integer({ minimum: 1 }), type: Type.String() }));

/** One line of `<dataDir>/webhooks/<id>/outbox.jsonl`; replayed in order at start-up. */
export const OutboxLineSchema = Type.Union([
  /** First line after a compaction: the highest seq ever enqueued, so a re-read never doubles one. */
  Type.Object({ op: Type.Literal('base'), enqueued_through: Type.Integer({ minimum: 0 }) }),
  Type.Object({
    op: Type.Literal('enqueue'),
    seq: Type.Integer({ minimum: 1 }),
    event: OutboxEventSchema,
    attempts: Type.Integer({ minimum: 0 }),
    first_attempt_at: Nullable(Timestamp),
    next_attempt_at: Nullable(Timestamp),
  }),
  Type.Object({
    op: Type.Literal('retry'),
    seq: Type.Integer({ minimum: 1 }),
    attempts: Type.Integer({ minimum: 1 }),
    first_attempt_at: Timestamp,
    next_attempt_at: Timestamp,
  }),
  Type.Object({ op: Type.Literal('done'), seq: Type.Integer({ minimum: 1 }) }),
]);
export type OutboxLine = Static<typeof OutboxLineSchema>;
