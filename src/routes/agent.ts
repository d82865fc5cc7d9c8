// Agent routes: an agent session's parsed messages, continuing it with a new prompt, interrupting it.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { AgentInputBodySchema, AgentMessagePageSchema, AgentMessagesQuerySchema } from '../../schemas/agent.js';
import { ref } from '../../schemas/common.js';
import { ContinueSessionBodySchema, SessionIdParamsSchema } from '../../schemas/requests.js';
import { SessionSchema } from '../../schemas/session.js';
import type { AgentService } from '../agent/service.js';
import type { SessionService } from '../sessions/service.js';
import { problems } from './responses.js';

export interface AgentRoutesOptions {
  sessions: SessionService;
  agent: AgentService;
}

const tags = ['agent'];
const session = ref(SessionSchema);

export const agentRoutes: FastifyPluginAsyncTypebox<AgentRoutesOptions> = async (app, { sessions, agent }) => {
  app.get(
    '/v1/sessions/:id/agent/messages',
    {
      schema: {
        tags,
        operationId: 'listAgentMessages',
        summary: 'Read an agent session’s parsed messages, a page at a time',
        description:
          'For a session started with agent.stream_json: the messages of its stdout in order, each `{n, offset, length, type, subtype, message}`, ' +
          '`message` being the JSON object exactly as claude wrote it (a line that is not a JSON object is `type: text` with the line as a string). ' +
          '`offset`/`length` locate its line in stdout (GET .../logs/stdout with Range reads the raw bytes). ' +
          'While the session runs, the last line counts once its newline is written. Poll with `after=next_after`, or follow the log stream with `format=agent`.',
        params: SessionIdParamsSchema,
        querystring: AgentMessagesQuerySchema,
        response: {
          200: { ...ref(AgentMessagePageSchema), description: 'a page of messages in order, each with its byte offset in stdout' },
          ...problems('session_not_found', 'validation_failed', 'session_not_agent', 'log_unavailable', 'unavailable'),
        },
      },
    },
    async (request, reply) => {
      const body = await agent.page(request.params.id, request.query.after, request.query.limit);
      // Streamed from the log: the schema documents the shape; the text is built as it is sent.
      return reply.type('application/json; charset=utf-8').send(body as never);
    },
  );

  app.post(
    '/v1/sessions/:id/continue',
    {
      schema: {
        tags,
        operationId: 'continueSession',
        summary: 'Continue an ended agent session with a new prompt, or fork it',
        description:
          'Starts a new session in the same working directory with the same command and options: `claude --resume <agent session_id>` ' +
          '(plus `--fork-session` with `fork`) `-- <prompt>`, with `parent_id` set to this session. ' +
          '409 `session_running` while this session has not ended; 409 `agent_session_unknown` when it has no agent `session_id`. ' +
          'Answers as a start does; an `Idempotency-Key` makes a retry safe.',
        params: SessionIdParamsSchema,
        body: ref(ContinueSessionBodySchema),
        headers: Type.Object({
          'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'as for a start' })),
        }),
        response: {
          201: { ...session, description: 'the new session, running or failed; Location names it' },
          ...problems(
            'session_not_found',
            'validation_failed',
            'session_running',
            'agent_session_unknown',
            'working_directory_invalid',
            'command_not_allowed',
            'idempotency_conflict',
            'payload_too_large',
            'unsupported_media_type',
            'limit_exceeded',
            'unavailable',
            'insufficient_storage',
          ),
        },
      },
    },
    async (request, reply) => {
      const { session: created, replayed } = await sessions.continue(request.params.id, request.body, {
        idempotencyKey: request.headers['idempotency-key'],
        caller: request.auth?.key,
      });
      if (replayed) reply.header('idempotent-replayed', 'true');
      return reply.code(201).header('location', `/v1/sessions/${created.id}`).send(created);
    },
  );

  app.post(
    '/v1/sessions/:id/interrupt',
    {
      schema: {
        tags,
        operationId: 'interruptSession',
        summary: 'Interrupt a running session: SIGINT to its process group',
        description:
          'An agent stops its current turn; the session goes on unless its process exits. Nothing else is sent (no grace, no SIGKILL): ' +
          'POST .../stop ends a session. 409 `session_not_running` for a session that is queued, starting or ended. The body may be omitted.',
        params: SessionIdParamsSchema,
        response: { 200: { ...session, description: 'the session, as it is after the signal was sent' }, ...problems('session_not_found', 'session_not_running') },
      },
    },
    async (request) => sessions.interrupt(request.params.id),
  );

  app.post(
    '/v1/sessions/:id/input',
    {
      schema: {
        tags,
        operationId: 'sendSessionInput',
        summary: 'Send a user message to an agent session started with agent.input',
        description:
          '`{"text": "..."}` is written to the session’s stdin as one stream-json user message; `{"message": {...}}` writes a whole stream-json user message as it is. ' +
          'Messages are written whole, one at a time per session, and work after a restart of the service (the session’s keeper holds the pipe). ' +
          'The answer comes on stdout: GET .../agent/messages or the log stream with format=agent. ' +
          '409 `session_not_interactive` for a session started without agent.input, `session_not_running` for one queued or ended, ' +
          '`input_busy` when the session has not read its stdin for 5 s (nothing was written); 413 over 256 KiB.',
        params: SessionIdParamsSchema,
        body: ref(AgentInputBodySchema),
        response: {
          200: { ...session, description: 'the session, after the whole message was written to its stdin' },
          ...problems('validation_failed', 'session_not_found', 'session_not_interactive', 'session_not_running', 'input_busy', 'payload_too_large'),
        },
      },
    },
    async (request) => sessions.input(request.params.id, request.body),
  );
};
