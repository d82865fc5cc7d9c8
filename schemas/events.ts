// Lifecycle events: what /v1/events streams, what the journal keeps and what webhooks deliver.
import { Type, type Static } from '@sinclair/typebox';
import { Timestamp, ref } from './common.js';
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
