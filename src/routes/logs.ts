// Log routes: a JSON tail of both streams, and one stream's raw bytes (with Range).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ref } from '../../schemas/common.js';
import { LogsTailQuerySchema, RawLogParamsSchema, SessionIdParamsSchema } from '../../schemas/requests.js';
import { LogsTailSchema } from '../../schemas/responses.js';
import { SessionError } from '../sessions/errors.js';
import type { SessionManager } from '../sessions/manager.js';
import { parseRange } from './range.js';
import { problems } from './responses.js';

export interface LogRoutesOptions {
  manager: SessionManager;
}

const tags = ['logs'];

export const logRoutes: FastifyPluginAsyncTypebox<LogRoutesOptions> = async (app, { manager }) => {
  app.get(
    '/v1/sessions/:id/logs',
    {
      schema: {
        tags,
        summary: 'The last bytes of stdout and stderr',
        params: SessionIdParamsSchema,
        querystring: LogsTailQuerySchema,
        response: { 200: ref(LogsTailSchema), ...problems('session_not_found', 'validation_failed') },
      },
    },
    async (request) => manager.tail(request.params.id, request.query.tail_bytes),
  );

  app.get(
    '/v1/sessions/:id/logs/:stream',
    {
      schema: {
        tags,
        summary: 'One stream’s raw bytes',
        description: 'Byte-exact. `Range: bytes=a-b` (or `a-`, or `-n`) answers 206 with that part.',
        params: RawLogParamsSchema,
        headers: Type.Object({
          range: Type.Optional(Type.String({ description: 'bytes=a-b, bytes=a- or bytes=-n' })),
        }),
        response: {
          200: { description: 'the whole log', content: { 'text/plain': { schema: Type.String() } } },
          206: { description: 'the requested range', content: { 'text/plain': { schema: Type.String() } } },
          ...problems('session_not_found', 'validation_failed', 'range_not_satisfiable'),
        },
      },
    },
    async (request, reply) => {
      const range = parseRange(request.headers.range);
      if (range === 'invalid') throw new SessionError('range_not_satisfiable', 'the Range header is not a valid bytes range');
      const log = await manager.rawLog(request.params.id, request.params.stream, range ?? undefined);
      reply.header('accept-ranges', 'bytes').type('text/plain; charset=utf-8');
      if (range && log.range) {
        reply.code(206).header('content-range', `bytes ${log.range.start}-${log.range.end}/${log.size}`);
      }
      reply.header('content-length', log.range ? log.range.end - log.range.start + 1 : 0);
      // The schema types the body as a string for the spec; a stream sends the same bytes without buffering.
      return reply.send(log.body as unknown as string);
    },
  );
};
