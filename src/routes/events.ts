// GET /v1/events: every session's lifecycle events as Server-Sent Events, filtered, resumable by seq.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { EVENT_SEQ_PATTERN, EventsQuerySchema, type EventType } from '../../schemas/events.js';
import { parseLabelSelector } from '../../schemas/labels.js';
import type { EventJournal } from '../events/journal.js';
import { createEventStreams, type EventStreams } from '../events/stream.js';
import { SSE_HEADERS } from '../logs/sse.js';
import { openLiveResponse } from './live.js';
import { problems } from './responses.js';

export interface EventRoutesOptions {
  journal: EventJournal;
  keepAliveMs: number;
  /** The register of open event streams; when absent the plugin makes its own and ends it in preClose. */
  streams?: EventStreams;
}

const SEQ = new RegExp(EVENT_SEQ_PATTERN);

/** A seq from Last-Event-ID, or null when there is none (or it is not one). */
function parseSeq(value: string | undefined): number | null {
  return value !== undefined && SEQ.test(value) ? Number(value) : null;
}

export const eventRoutes: FastifyPluginAsyncTypebox<EventRoutesOptions> = async (app, { journal, keepAliveMs, streams }) => {
  const register = streams ?? createEventStreams({ journal, keepAliveMs, log: app.log });
  if (!streams) app.addHook('preClose', async () => register.closeAll());

  app.get(
    '/v1/events',
    {
      // Browsers' EventSource cannot send headers: the auth plugin accepts ?access_token= here.
      config: { queryTokenAllowed: true },
      schema: {
        tags: ['events'],
        operationId: 'streamEvents',
        summary: 'Follow every session’s lifecycle events as Server-Sent Events',
        description:
          'Starts with `retry: 2000`. Each event has `id: <seq>` (strictly increasing across restarts), ' +
          '`event: <type>` (`session.created`, `session.queued`, `session.started`, `session.status`, `session.ended`, `session.deleted`) ' +
          'and `data:` a LifecycleEvent `{ seq, type, time, session }`. ' +
          'Filters: `session_id`, `label=key=value` (repeatable; all must match the session’s labels), `types` (comma list). ' +
          'Resume with the `Last-Event-ID` header (it wins), `?last_event_id=` or `?since=<seq>`: every retained event after it, ' +
          'then live, with no gap and no duplicate. The service retains at least the last 10,000 events or 24 hours, whichever is more; ' +
          'when the seq asked for is older than that (or is one this service never gave out), the first event is ' +
          '`event: reset` with `{ "oldest_seq": n }`: re-list, then follow from there; every retained event follows. ' +
          'Without a resume position the stream is live only, from now (it opens with an `id:` line holding the current seq, ' +
          'so a reconnecting EventSource resumes from there). A `: keep-alive` comment at least every 15 s; ' +
          'the service’s shutdown ends the stream cleanly (reconnect with Last-Event-ID).',
        querystring: EventsQuerySchema,
        headers: Type.Object({
          'last-event-id': Type.Optional(Type.String({ description: 'sent by EventSource on reconnect: the last seq received; wins over since' })),
        }),
        produces: ['text/event-stream'],
        response: {
          200: { description: 'an event stream; each data is a LifecycleEvent', content: { 'text/event-stream': { schema: Type.String() } } },
          ...problems('validation_failed'),
        },
      },
    },
    async (request, reply) => {
      const { query } = request;
      // The header wins: EventSource sends the newest id on each reconnect, while the URL keeps
      // what the page put in it.
      const after = parseSeq(request.headers['last-event-id']) ?? parseSeq(query.last_event_id) ?? query.since ?? null;
      const filter = {
        sessionId: query.session_id ?? null,
        labels: parseLabelSelector(query.label),
        types: query.types === undefined ? null : new Set(query.types.split(',') as EventType[]),
      };
      const res = openLiveResponse(reply, SSE_HEADERS);
      // HEAD: the headers are the whole answer.
      if (request.method === 'HEAD') return void res.end();
      await register.open(res, { filter, after });
    },
  );
};
