// Request shapes: bodies, query strings and path parameters of the v1 routes, with their bounds.
import { Type, type Static } from '@sinclair/typebox';
import { SESSION_ID_MAX, SESSION_ID_PATTERN } from './common.js';
import { AgentOptionsSchema } from './agent.js';
import { ContainerLimitsSchema, ImageSchema, NetworkSchema, RuntimeNameSchema } from './runtime.js';
import { LabelSelectorSchema, LabelsSchema } from './labels.js';
import { SessionStatusSchema } from './session.js';

/** Thirty days: the longest limit a session may ask for. */
export const MAX_LIMIT_MS = 30 * 24 * 60 * 60 * 1000;

/**
 * Text shown in lists and logs (names, grouping ids): no control character (C0, DEL, C1) and no
 * lone surrogate, which JSON tools such as jq refuse. Ajv matches patterns with the `u` flag,
 * so a surrogate pair (an emoji) is one character and passes; a half of one does not.
 */
export const PLAIN_TEXT_PATTERN = '^[^\\u0000-\\u001f\\u007f-\\u009f\\ud800-\\udfff]*$';
/** An argument: no NUL (no program can receive one) and no control but tab, line feed and carriage return. */
export const ARG_PATTERN = '^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\ud800-\\udfff]*$';
/** A prompt may hold any text (newlines, tabs) but NUL and lone surrogates: it is passed as an argument. */
export const PROMPT_PATTERN = '^[^\\u0000\\ud800-\\udfff]*$';
const ShortText = (description: string) => Type.String({ minLength: 1, maxLength: 200, pattern: PLAIN_TEXT_PATTERN, description });
/** Values passed to a CLI as an option's value must not be taken for another option. */
const NotAnOption = '^[^-\\s\\u0000-\\u001f\\u007f-\\u009f\\ud800-\\udfff][^\\u0000-\\u001f\\u007f-\\u009f\\ud800-\\udfff]*$';

export const StartSessionBodySchema = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 200,
      pattern: PLAIN_TEXT_PATTERN,
      description: 'human name; the id is derived from it. No control characters',
    }),
    working_directory: Type.String({
      minLength: 1,
      maxLength: 4096,
      description: 'an existing directory inside the configured workspace roots',
    }),
    command: Type.Optional(
      Type.String({ minLength: 1, maxLength: 4096, description: 'program name or absolute path; must be allowed. Default: the configured default command' }),
    ),
    args: Type.Optional(
      Type.Array(Type.String({ maxLength: 131072, pattern: ARG_PATTERN }), {
        maxItems: 1024,
        description:
          'arguments, passed as they are (no shell); no NUL or control character but tab, line feed and carriage return. ' +
          'When absent and the command is claude with a prompt: --print --verbose [options] -- <prompt>',
      }),
    ),
    prompt: Type.Optional(Type.String({ maxLength: 524288, pattern: PROMPT_PATTERN, description: 'any text but NUL (and lone surrogates)' })),
    executive: Type.Optional(ShortText('who runs it; default Unassigned')),
    mission_id: Type.Optional(ShortText('free-form grouping id')),
    assignment_id: Type.Optional(ShortText('free-form grouping id')),
    branch: Type.Optional(ShortText('git branch the session works on')),
    created_by: Type.Optional(ShortText('default HQ01 operator')),
    permission_mode: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z][A-Za-z0-9_-]*$', description: 'claude --permission-mode value' }),
    ),
    allowed_tools: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 500, pattern: NotAnOption }), {
        maxItems: 128,
        description: 'claude --allowedTools values',
      }),
    ),
    runtime_write_root: Type.Optional(
      Type.String({ minLength: 1, maxLength: 4096, description: 'a directory inside the workspace roots where the session may write' }),
    ),
    repository_write_allowed: Type.Optional(Type.Boolean({ default: true })),
    expects_report: Type.Optional(Type.Boolean({ default: false, description: 'the session is completed only when it writes report.md' })),
    labels: Type.Optional(LabelsSchema),
    max_runtime_ms: Type.Optional(
      Type.Integer({ minimum: 0, maximum: MAX_LIMIT_MS, description: 'end the session (gracefully) this long after it started; 0 or absent: SESSIOND_MAX_RUNTIME_MS' }),
    ),
    idle_timeout_ms: Type.Optional(
      Type.Integer({ minimum: 0, maximum: MAX_LIMIT_MS, description: 'end the session when neither stream had output for this long; absent: SESSIOND_IDLE_TIMEOUT_MS; 0: none' }),
    ),
    queue: Type.Optional(
      Type.Boolean({ default: false, description: 'when SESSIOND_MAX_RUNNING sessions are live, answer 202 with a queued session instead of 429' }),
    ),
    priority: Type.Optional(Type.Integer({ minimum: -100, maximum: 100, default: 0, description: 'orders the queue: higher first, then arrival' })),
    agent: Type.Optional(AgentOptionsSchema),
    runtime: Type.Optional(RuntimeNameSchema),
    image: Type.Optional(ImageSchema),
    limits: Type.Optional(ContainerLimitsSchema),
    network: Type.Optional(NetworkSchema),
  },
  { $id: 'StartSessionBody', additionalProperties: false },
);
export type StartSessionBody = Static<typeof StartSessionBodySchema>;

/** POST /v1/sessions/{id}/continue: a new session that resumes the parent's agent conversation. */
export const ContinueSessionBodySchema = Type.Object(
  {
    prompt: Type.String({ minLength: 1, maxLength: 524288, pattern: PROMPT_PATTERN, description: 'the next prompt; any text but NUL (and lone surrogates)' }),
    fork: Type.Optional(Type.Boolean({ default: false, description: 'resume into a new agent session id (`--fork-session`); the parent’s stays as it was' })),
    name: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, pattern: PLAIN_TEXT_PATTERN, description: 'default: the parent’s name' }),
    ),
    labels: Type.Optional(LabelsSchema),
    max_runtime_ms: Type.Optional(
      Type.Integer({ minimum: 0, maximum: MAX_LIMIT_MS, description: 'as for a start; absent: the parent’s limit (or SESSIOND_MAX_RUNTIME_MS when it had none)' }),
    ),
    idle_timeout_ms: Type.Optional(
      Type.Integer({ minimum: 0, maximum: MAX_LIMIT_MS, description: 'as for a start; absent: the parent’s (0: none)' }),
    ),
  },
  {
    $id: 'ContinueSessionBody',
    additionalProperties: false,
    description: 'labels default to the parent’s; everything else (directory, command, permission mode, tools, agent options) is the parent’s',
  },
);
export type ContinueSessionBody = Static<typeof ContinueSessionBodySchema>;

export const StopBodySchema = Type.Object(
  {
    grace_ms: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 600000, description: 'time between SIGTERM and SIGKILL; default SESSIOND_STOP_GRACE_MS' }),
    ),
  },
  { additionalProperties: false },
);
export type StopBody = Static<typeof StopBodySchema>;

export const WAIT_DEFAULT_MS = 30000;
export const WaitBodySchema = Type.Object(
  {
    timeout_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 300000, default: WAIT_DEFAULT_MS })),
  },
  { additionalProperties: false },
);
export type WaitBody = Static<typeof WaitBodySchema>;

export const SessionIdParamsSchema = Type.Object({
  id: Type.String({ pattern: SESSION_ID_PATTERN, maxLength: SESSION_ID_MAX, description: 'session id' }),
});
export type SessionIdParams = Static<typeof SessionIdParamsSchema>;

export const LogStreamNameSchema = Type.Union([Type.Literal('stdout'), Type.Literal('stderr')]);
export type LogStreamName = Static<typeof LogStreamNameSchema>;

export const RawLogParamsSchema = Type.Object({
  id: SessionIdParamsSchema.properties.id,
  stream: Type.Unsafe<LogStreamName>({ type: 'string', enum: ['stdout', 'stderr'] }),
});
export type RawLogParams = Static<typeof RawLogParamsSchema>;

export const ListSessionsQuerySchema = Type.Object({
  status: Type.Optional(Type.Array(SessionStatusSchema, { description: 'repeatable: ?status=running&status=starting' })),
  executive: Type.Optional(Type.String({ maxLength: 200 })),
  mission_id: Type.Optional(Type.String({ maxLength: 200 })),
  assignment_id: Type.Optional(Type.String({ maxLength: 200 })),
  label: Type.Optional(LabelSelectorSchema),
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
  cursor: Type.Optional(Type.String({ maxLength: 512, description: 'opaque; next_cursor of the previous page' })),
});
export type ListSessionsQuery = Static<typeof ListSessionsQuerySchema>;

export const TAIL_DEFAULT_BYTES = 65536;
export const TAIL_MAX_BYTES = 1048576;
export const LogsTailQuerySchema = Type.Object({
  tail_bytes: Type.Integer({ minimum: 0, maximum: TAIL_MAX_BYTES, default: TAIL_DEFAULT_BYTES }),
});
export type LogsTailQuery = Static<typeof LogsTailQuerySchema>;

export const DeleteQuerySchema = Type.Object({
  force: Type.Boolean({ default: false, description: 'stop a live session first, then delete it' }),
});
export type DeleteQuery = Static<typeof DeleteQuerySchema>;

/** RFC 3339 (`2026-12-01T22:50:00Z`, `...T22:50:00.123+02:00`) or a duration back from now (`90s`, `10m`, `2h`, `1h30m`, `500ms`). */
export const SINCE_PATTERN = '^([0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})|([0-9]{1,9}(ms|s|m|h))+)$';
const SinceSchema = Type.String({
  pattern: SINCE_PATTERN,
  maxLength: 64,
  description: 'start at the first line written at or after this time: RFC 3339, or a duration back from now such as 90s, 10m, 2h',
});
const TimestampsSchema = Type.Boolean({
  default: false,
  description: 'prefix each line with the RFC 3339 UTC time (ms) its first byte was written, and one space (docker logs -t)',
});

export const RawLogQuerySchema = Type.Object({
  follow: Type.Boolean({
    default: false,
    description:
      'keep the response open and stream new bytes until the session ends (curl -N is tail -f); it starts at byte 0, or at tail_bytes, since, or `Range: bytes=N-`',
  }),
  timestamps: TimestampsSchema,
  since: Type.Optional(SinceSchema),
  tail_bytes: Type.Optional(
    Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'start that many bytes before the end, at the next line start' }),
  ),
});
export type RawLogQuery = Static<typeof RawLogQuerySchema>;

export const EVENT_ID_PATTERN = '^[0-9]{1,15}-[0-9]{1,15}$';

export const LogStreamQuerySchema = Type.Object({
  streams: Type.String({
    default: 'stdout,stderr',
    pattern: '^(stdout|stderr)(,(stdout|stderr))?$',
    description: 'comma list of the streams to follow',
  }),
  from: Type.Unsafe<'start' | 'tail'>({
    type: 'string',
    enum: ['start', 'tail'],
    default: 'tail',
    description: 'tail: the last tail_bytes of each stream (from the next line start), then live; start: everything from byte 0',
  }),
  tail_bytes: Type.Integer({ minimum: 0, maximum: TAIL_MAX_BYTES, default: TAIL_DEFAULT_BYTES }),
  timestamps: TimestampsSchema,
  since: Type.Optional(SinceSchema),
  last_event_id: Type.Optional(
    Type.String({
      pattern: EVENT_ID_PATTERN,
      description: 'resume after this event id (`<stdout offset>-<stderr offset>`), for clients that cannot send the Last-Event-ID header',
    }),
  ),
  format: Type.Unsafe<'lines' | 'agent'>({
    type: 'string',
    enum: ['lines', 'agent'],
    default: 'lines',
    description:
      'lines: `stdout`/`stderr` events per log line; agent (sessions started with agent.stream_json): one `agent` event per parsed message of stdout, ' +
      'with the same ids (`<stdout offset after it>-<stderr offset>`), resume and `end`; `streams` is ignored',
  }),
});
export type LogStreamQuery = Static<typeof LogStreamQuerySchema>;
