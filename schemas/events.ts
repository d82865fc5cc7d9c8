// Lifecycle events: what /v1/events streams, what the journal keeps and what webhooks deliver.
import { Type, type Static } from '@sinclair/typebox';
import { SESSION_ID_MAX, SESSION_ID_PATTERN, Timestamp, ref } from './common.js';
import { LabelSelectorSchema } from './labels.js';
import { SessionSchema } from './session.js';

export const EVENT_TYPES = [
  'session.created',
  'session.queued',
  'session.started',
  'session.status',
  'session.ended',
  'session.deleted',
] as const;

export const EventTypeSchema = Type.Unsafe<(typeof EVENT_TYPES)[number]>({
  type: 'string',
  enum: [...EVENT_TYPES],
  description:
    'session.created: the record was written; session.queued: it waits for capacity; session.started: its process runs; ' +
    'session.status: any other status change; session.ended: it reached a final status; session.deleted: it was removed',
});
export type EventType = Static<typeof EventTypeSchema>;

export const LifecycleEventSchema = Type.Object(
  {
    seq: Type.Integer({ minimum: 1, description: 'strictly increasing across restarts of the service; the SSE id' }),
    type: EventTypeSchema,
    time: Timestamp,
    session: ref(SessionSchema),
  },
  { $id: 'LifecycleEvent', additionalProperties: false },
);
export type LifecycleEvent = Static<typeof LifecycleEventSchema>;

/** A seq as a resume position (`Last-Event-ID`, `last_event_id`). */
export const EVENT_SEQ_PATTERN = '^[0-9]{1,15}$';

const TYPE_ALTERNATIVES = EVENT_TYPES.map((type) => type.replace('.', '\\.')).join('|');

export const EventsQuerySchema = Type.Object({
  session_id: Type.Optional(
    Type.String({ pattern: SESSION_ID_PATTERN, maxLength: SESSION_ID_MAX, description: 'only this session’s events' }),
  ),
  label: Type.Optional(LabelSelectorSchema),
  types: Type.Optional(
    Type.String({
      pattern: `^(${TYPE_ALTERNATIVES})(,(${TYPE_ALTERNATIVES}))*$`,
      maxLength: 512,
      description: `comma list of event types: ${EVENT_TYPES.join(', ')}`,
    }),
  ),
  since: Type.Optional(
    Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'replay every retained event after this seq, then go live' }),
  ),
  last_event_id: Type.Optional(
    Type.String({ pattern: EVENT_SEQ_PATTERN, description: 'the same as since, for clients that cannot send the Last-Event-ID header' }),
  ),
});
export type EventsQuery = Static<typeof EventsQuerySchema>;
