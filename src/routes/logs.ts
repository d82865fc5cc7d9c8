// Log routes: a JSON tail of both streams, and one stream's raw bytes (with Range).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ref } from '../../schemas/common.js';
import {
  EVENT_ID_PATTERN,
  LogStreamQuerySchema,
  LogsTailQuerySchema,
  RawLogParamsSchema,
  RawLogQuerySchema,
  SessionIdParamsSchema,
} from '../../schemas/requests.js';
import type { AgentService } from '../agent/service.js';
import { beforeWindow, type LogStreams } from '../logs/streams.js';
import { SSE_HEADERS } from '../logs/sse.js';
import type { LogStreamName } from '../store/store.js';
import { LogsTailSchema } from '../../schemas/responses.js';
import type { SessionService } from '../sessions/service.js';
import { openLiveResponse } from './live.js';
import { parseRange } from './range.js';
import { parseSince } from '../logs/timestamps.js';
import { problems } from './responses.js';
import { SessionError } from '../sessions/errors.js';

export interface LogRoutesOptions {
  sessions: SessionService;
  streams: LogStreams;
  /** Serves format=agent; without it, that format is refused as for a session that is not an agent's. */
  agent?: AgentService;
}

const tags = ['logs'];
const EVENT_ID = new RegExp(EVENT_ID_PATTERN);

/** Headers for a response that stays open: proxies must pass bytes on at once. */
const LIVE_HEADERS = { 'cache-control': 'no-cache', 'x-accel-buffering': 'no' };

/** `<stdout offset>-<stderr offset>`, or null when there is no (valid) resume position. */
function parseEventId(value: string | undefined): { stdout: number; stderr: number } | null {
  if (!value || !EVENT_ID.test(value)) return null;
  const [stdout = 0, stderr = 0] = value.split('-').map(Number);
  return { stdout, stderr };
}

/**
 * Reads the last byte of each log before a live response starts: a log that is no longer a
 * regular file is a 409 problem now, not a 200 stream cut short once the first read fails.
 */
async function assertLogsReadable(sessions: SessionService, id: string): Promise<void> {
  await sessions.tail(id, 1);
}

export const logRoutes: FastifyPluginAsyncTypebox<LogRoutesOptions> = async (app, { sessions, streams, agent }) => {
  app.get(
    '/v1/sessions/:id/logs/stream',
    {
      // Browsers' EventSource cannot send headers: the auth plugin accepts ?access_token= here.
      config: { queryTokenAllowed: true },
      schema: {
        tags,
        operationId: 'streamSessionLogs',
        summary: 'Follow stdout and stderr live as Server-Sent Events',
        description:
          'Starts with `retry: 2000`. Events: `stdout` / `stderr` (one `data:` line per log line; `\\r\\n` and a lone `\\r` end a line; ' +
          'a partial line is sent after at most 200 ms), each with `id: <stdout offset>-<stderr offset>` (bytes sent so far); ' +
          '`status` (the Session, on connect and on every change); `truncated` (`{stream, size}`, when a log shrank; streaming goes on from the new size; ' +
          'or `{stream, size, retained_from}` when the asked start, a resume, or a follower that fell behind lies before what SESSIOND_MAX_LOG_BYTES kept: streaming goes on from retained_from, its id says so); ' +
          '`end` (the final Session, once the session has ended and every byte was sent; then the response closes). ' +
          'A `: keep-alive` comment at least every 15 s. Resume with the `Last-Event-ID` header or `?last_event_id=`: no gap, no duplicate. ' +
          'With both streams, output events come in the order the session wrote them across stdout and stderr. ' +
          '`timestamps=true` prefixes each line with the RFC 3339 UTC time (ms) of its first byte and one space; `since` starts at the first line written at or after a time (a resume wins over it, it wins over from). ' +
          'With `format=agent` (a session started with agent.stream_json): `agent` events instead of `stdout`/`stderr`, one per parsed message ' +
          '(`data:` an AgentMessage, as GET .../agent/messages has it; its id is the stdout offset after its line), `status` and `end` as above; ' +
          'a session that is not an agent session is 409 `session_not_agent`.',
        params: SessionIdParamsSchema,
        querystring: LogStreamQuerySchema,
        headers: Type.Object({
          'last-event-id': Type.Optional(Type.String({ description: 'sent by EventSource on reconnect; wins over from' })),
        }),
        produces: ['text/event-stream'],
        response: {
          200: { description: 'an event stream', content: { 'text/event-stream': { schema: Type.String() } } },
          ...problems('session_not_found', 'validation_failed', 'log_unavailable', 'session_not_agent'),
        },
      },
    },
    async (request, reply) => {
      const session = await sessions.get(request.params.id);
      // Refused before the stream opens, so the client gets a problem, not an empty stream.
      const agentFormat = request.query.format === 'agent' ? agent : null;
      if (agentFormat === undefined) throw new SessionError('session_not_agent', 'this service does not parse agent messages');
      await agentFormat?.agentSession(session.id);
      await assertLogsReadable(sessions, session.id);
      // The header wins: EventSource sends the newest id on each reconnect, while a query value
      // in the URL stays what it was when the page built it.
      const resume = parseEventId(request.headers['last-event-id']) ?? parseEventId(request.query.last_event_id);
      if (agentFormat) {
        const res = openLiveResponse(reply, SSE_HEADERS);
        if (request.method === 'HEAD') return void res.end();
        const ask = { from: request.query.from, tailBytes: request.query.tail_bytes, resume };
        await streams.serve(res, (shared) => agentFormat.stream(session, ask, res, shared));
        return;
      }
      // Checked before the response opens: a bad time is a 400 problem, not a stream.
      const since = request.query.since === undefined ? null : parseSince(request.query.since, Date.now());
      const res = openLiveResponse(reply, SSE_HEADERS);
      // HEAD: the headers are the whole answer. Streaming into a body nobody gets would hold
      // the connection (and a stream) open until the session ends.
      if (request.method === 'HEAD') return void res.end();
      await streams.sse(
        session,
        {
          // Each stream once: `stdout,stdout` would otherwise send every line twice.
          streams: [...new Set(request.query.streams.split(','))] as LogStreamName[],
          from: request.query.from,
          tailBytes: request.query.tail_bytes,
          resume,
          since,
          timestamps: request.query.timestamps,
        },
        res,
      );
    },
  );

  app.get(
    '/v1/sessions/:id/logs',
    {
      schema: {
        tags,
        operationId: 'getSessionLogs',
        summary: 'The last bytes of stdout and stderr',
        params: SessionIdParamsSchema,
        querystring: LogsTailQuerySchema,
        response: { 200: { ...ref(LogsTailSchema), description: 'the last tail_bytes of each stream, and their sizes' }, ...problems('session_not_found', 'validation_failed', 'log_unavailable') },
      },
    },
    async (request) => streams.withWindows(await sessions.tail(request.params.id, request.query.tail_bytes), request.query.tail_bytes),
  );

  app.get(
    '/v1/sessions/:id/logs/:stream',
    {
      // Following from a browser needs the query token too; a plain read does not.
      config: { queryTokenAllowed: (query: Record<string, unknown>) => query.follow === 'true' },
      schema: {
        tags,
        operationId: 'getSessionLogStream',
        summary: 'One stream’s raw bytes, whole, a range, or followed live',
        description:
          'Byte-exact. `Range: bytes=a-b` (or `a-`, or `-n`) answers 206 with that part. ' +
          '`?follow=true` sends the log from byte 0 (or from `tail_bytes` before the end at a line start, from `since`, or from byte N with `Range: bytes=N-`; `bytes=-n` is the last n bytes), ' +
          'then new bytes as they are written, and ends when the session has ended (`curl -N` is `tail -f`); when the service shuts down the response is aborted instead (curl exits 18). ' +
          'A follow with anything else it cannot honour (a closed range, several ranges, two starts at once) is 400. ' +
          '`timestamps=true` prefixes each line (ending with `\\n`) with the RFC 3339 UTC time (ms) of its first byte and one space; `since` starts at the first line written at or after a time. ' +
          '`?access_token=` is accepted only together with `follow=true`. ' +
          'Offsets are absolute: once SESSIOND_MAX_LOG_BYTES dropped the oldest bytes (see `*_retained_from` in GET .../logs), a Range (or a follow\'s `bytes=N-`) starting before them is 416 with `size` and `retained_from`; ' +
          'the whole log, a suffix range, `tail_bytes` and `since` start at the retained window. A follow that falls behind the window is aborted (curl exits 18) rather than skip bytes silently.',
        params: RawLogParamsSchema,
        querystring: RawLogQuerySchema,
        headers: Type.Object({
          range: Type.Optional(Type.String({ description: 'bytes=a-b, bytes=a- or bytes=-n' })),
        }),
        response: {
          200: { description: 'the whole log', content: { 'text/plain': { schema: Type.String() } } },
          206: { description: 'the requested range', content: { 'text/plain': { schema: Type.String() } } },
          ...problems('session_not_found', 'validation_failed', 'range_not_satisfiable', 'log_unavailable'),
        },
      },
    },
    async (request, reply) => {
      const { query } = request;
      const since = query.since === undefined ? undefined : parseSince(query.since, Date.now());
      if (query.follow) {
        const session = await sessions.get(request.params.id);
        await assertLogsReadable(sessions, session.id);
        // Decided before the response opens: what cannot be honoured is a 400 problem, not a stream.
        const start = await streams.rawStart(session.id, request.params.stream, { since, tailBytes: query.tail_bytes, range: request.headers.range });
        const res = openLiveResponse(reply, { ...LIVE_HEADERS, 'content-type': 'text/plain; charset=utf-8' });
        if (request.method === 'HEAD') return void res.end();
        await streams.rawFollow(session, request.params.stream, res, { start, timestamps: query.timestamps });
        return;
      }
      if (query.timestamps || since !== undefined || query.tail_bytes !== undefined) {
        const session = await sessions.get(request.params.id);
        const { stream } = request.params;
        reply.type('text/plain; charset=utf-8');
        let start: number;
        let end = await streams.logSize(session.id, stream);
        if (since === undefined && query.tail_bytes === undefined) {
          // timestamps=true alone: a Range keeps its meaning (and its 206, or 416).
          const range = parseRange(request.headers.range);
          const log = range ? await sessions.rawLog(session.id, stream, range) : null;
          log?.body.destroy();
          const retained = await streams.windows.from(session.id, stream);
          start = Math.max(log?.range?.start ?? 0, range ? 0 : retained);
          if (range && log?.range) {
            if (start < retained && !('suffix' in range)) throw beforeWindow(stream, start, retained, log.size);
            start = Math.max(start, retained);
            end = log.range.end + 1;
            reply.code(206).header('content-range', `bytes ${start}-${log.range.end}/${log.size}`);
          }
        } else {
          // since and tail_bytes choose the start themselves: a Range beside them is a 400.
          start = await streams.rawStart(session.id, stream, { since, tailBytes: query.tail_bytes, range: request.headers.range });
        }
        if (end <= start) return reply.send('');
        const body = query.timestamps ? streams.timedBytes(session.id, stream, start, end) : await streams.body(session.id, stream, start, end);
        return reply.send(body as unknown as string);
      }
      const { id, stream } = request.params;
      const range = parseRange(request.headers.range);
      // Checks the session and the range against the log's end (404, 416); the bytes are sent
      // below, from what the cap kept.
      const log = await sessions.rawLog(id, stream, range ?? undefined);
      log.body.destroy();
      reply.header('accept-ranges', 'bytes').type('text/plain; charset=utf-8');
      if (!log.range) return reply.header('content-length', 0).send('');
      const retained = await streams.windows.from(id, stream);
      let { start } = log.range;
      // A range that starts before the window is a 416 naming it; the whole log, or its last n
      // bytes, is what the window holds of it.
      if (start < retained && range && !('suffix' in range)) throw beforeWindow(stream, start, retained, log.size);
      start = Math.max(start, retained);
      const { end } = log.range;
      if (start > end) return reply.header('content-length', 0).send('');
      if (range) reply.code(206).header('content-range', `bytes ${start}-${end}/${log.size}`);
      reply.header('content-length', end - start + 1);
      // The schema types the body as a string for the spec; a stream sends the same bytes without buffering.
      return reply.send((await streams.body(id, stream, start, end + 1)) as unknown as string);
    },
  );
};
