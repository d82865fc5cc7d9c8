// Session routes: start, list, read, metadata, stop, wait, delete, report. Each handler is one service call.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ref } from '../../schemas/common.js';
import {
  DeleteQuerySchema,
  ListSessionsQuerySchema,
  SessionIdParamsSchema,
  StartSessionBodySchema,
  StopBodySchema,
  WAIT_DEFAULT_MS,
  WaitBodySchema,
} from '../../schemas/requests.js';
import { SessionListSchema } from '../../schemas/responses.js';
import { MetadataSchema, SessionSchema } from '../../schemas/session.js';
import type { SessionService } from '../sessions/service.js';
import { problems, sendJsonText } from './responses.js';

export interface SessionRoutesOptions {
  sessions: SessionService;
}

const session = ref(SessionSchema);
const tags = ['sessions'];

/** POST routes whose body is optional: curl -X POST with no body means "all defaults". */
const emptyBodyIsEmptyObject = async (request: { body: unknown }) => {
  if (request.body === undefined || request.body === null) request.body = {};
};

export const sessionRoutes: FastifyPluginAsyncTypebox<SessionRoutesOptions> = async (app, { sessions }) => {
  app.post(
    '/v1/sessions',
    {
      schema: {
        tags,
        operationId: 'startSession',
        summary: 'Start a session',
        description:
          'Validates the request, writes the record and starts the process detached in its working directory. ' +
          'When the response is sent the process is running, or the session is `failed` with the reason in `status_reason`.',
        body: ref(StartSessionBodySchema),
        headers: Type.Object({
          'idempotency-key': Type.Optional(
            Type.String({
              minLength: 1,
              maxLength: 255,
              description:
                'makes a retry safe: the same key with the same body within 24 hours answers the session already started ' +
                '(with `Idempotent-Replayed: true`, no second process); the same key with another body is 409 `idempotency_conflict`. Keys are per token.',
            }),
          ),
        }),
        response: {
          201: { ...session, description: 'the session, running or failed; Location names it' },
          202: { ...session, description: 'queued (the start asked for `queue` and SESSIOND_MAX_RUNNING sessions are live): it starts by itself when a place frees; Location names it' },
          ...problems('validation_failed', 'working_directory_invalid', 'command_not_allowed', 'idempotency_conflict', 'payload_too_large', 'unsupported_media_type', 'limit_exceeded', 'unavailable', 'insufficient_storage'),
        },
      },
    },
    async (request, reply) => {
      const { session: created, replayed, queued } = await sessions.start(request.body, {
        idempotencyKey: request.headers['idempotency-key'],
        caller: request.auth?.key,
      });
      if (replayed) reply.header('idempotent-replayed', 'true');
      return reply.code(queued ? 202 : 201).header('location', `/v1/sessions/${created.id}`).send(created);
    },
  );

  app.get(
    '/v1/sessions',
    {
      schema: {
        tags,
        operationId: 'listSessions',
        summary: 'List sessions, newest first',
        querystring: ListSessionsQuerySchema,
        response: { 200: { ...ref(SessionListSchema), description: 'a page of sessions; next_cursor fetches the next one' }, ...problems('validation_failed') },
      },
    },
    async (request) => sessions.list(request.query),
  );

  app.get(
    '/v1/sessions/:id',
    {
      schema: {
        tags,
        operationId: 'getSession',
        summary: 'Read a session, as the service knows it (no process check)',
        params: SessionIdParamsSchema,
        response: { 200: { ...session, description: 'the session' }, ...problems('session_not_found', 'session_damaged') },
      },
    },
    // Already JSON (cached per record version, see view-cache.ts): sent as it is.
    async (request, reply) => sendJsonText(reply, await sessions.getJson(request.params.id)),
  );

  app.get(
    '/v1/sessions/:id/metadata',
    {
      schema: {
        tags,
        operationId: 'getSessionMetadata',
        summary: 'Read what a session was started with (immutable)',
        params: SessionIdParamsSchema,
        response: { 200: { ...ref(MetadataSchema), description: 'what the session was started with' }, ...problems('session_not_found') },
      },
    },
    async (request) => sessions.metadata(request.params.id),
  );

  app.post(
    '/v1/sessions/:id/stop',
    {
      preValidation: emptyBodyIsEmptyObject,
      config: { optionalBody: true },
      schema: {
        tags,
        operationId: 'stopSession',
        summary: 'Stop a session: SIGTERM to its process group, SIGKILL after the grace period',
        description: 'Idempotent: a session that already ended answers 200 unchanged. The body may be omitted.',
        params: SessionIdParamsSchema,
        body: StopBodySchema,
        response: { 200: { ...session, description: 'the session: stopped, or as it was if it had already ended' }, ...problems('session_not_found', 'validation_failed') },
      },
    },
    async (request) => sessions.stop(request.params.id, request.body.grace_ms),
  );

  app.post(
    '/v1/sessions/:id/wait',
    {
      preValidation: emptyBodyIsEmptyObject,
      config: { optionalBody: true },
      schema: {
        tags,
        operationId: 'waitForSession',
        summary: 'Wait until a session has ended or the timeout passed',
        description: 'Answers the session either way; its status says which. The body may be omitted.',
        params: SessionIdParamsSchema,
        body: WaitBodySchema,
        response: { 200: { ...session, description: 'the session: ended, or still live when the timeout passed' }, ...problems('session_not_found', 'validation_failed') },
      },
    },
    async (request, reply) => {
      // A client that goes away releases its wait at once; nothing keeps waiting for nobody.
      // (The response's 'close' is the connection's; the request's fires once its body is read.)
      const gone = new AbortController();
      const onClose = () => gone.abort();
      reply.raw.once('close', onClose);
      try {
        return await sessions.wait(request.params.id, request.body.timeout_ms ?? WAIT_DEFAULT_MS, gone.signal);
      } finally {
        reply.raw.off('close', onClose);
      }
    },
  );

  app.delete(
    '/v1/sessions/:id',
    {
      schema: {
        tags,
        operationId: 'deleteSession',
        summary: 'Delete a session’s record and logs',
        description: 'A live session is 409 `session_running` unless `?force=true`, which stops it first.',
        params: SessionIdParamsSchema,
        querystring: DeleteQuerySchema,
        response: {
          204: Type.Null({ description: 'deleted' }),
          ...problems('session_not_found', 'session_running', 'validation_failed'),
        },
      },
    },
    async (request, reply) => {
      await sessions.delete(request.params.id, request.query.force);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/v1/sessions/:id/report',
    {
      schema: {
        tags,
        operationId: 'getSessionReport',
        summary: 'Read the session’s report.md',
        description: 'Streamed as the session wrote it; a report larger than `SESSIOND_MAX_REPORT_BYTES` (default 10 MiB) is 413 `report_too_large`.',
        params: SessionIdParamsSchema,
        produces: ['text/markdown'],
        response: {
          200: {
            description: 'the report, as written by the session',
            content: { 'text/markdown': { schema: Type.String() } },
          },
          ...problems('session_not_found', 'report_not_found', 'report_too_large'),
        },
      },
    },
    async (request, reply) => {
      const report = await sessions.report(request.params.id);
      // Streamed: the schema types the body as a string for the spec; the bytes are never held whole.
      return reply.type('text/markdown; charset=utf-8').header('content-length', report.size).send(report.body as unknown as string);
    },
  );
};
