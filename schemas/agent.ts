// Agent sessions (Claude Code): the start-body option, the summary a session carries, the parsed
// messages of its stream-json stdout.
import { Type, type Static } from '@sinclair/typebox';
import { Nullable, Timestamp, ref } from './common.js';

/** The longest `result` text a summary keeps, in UTF-8 bytes. */
export const AGENT_RESULT_MAX_BYTES = 64 * 1024;
export const AGENT_MESSAGES_MAX_LIMIT = 500;
export const AGENT_MESSAGES_DEFAULT_LIMIT = 100;

const AgentKindSchema = Type.Unsafe<'claude'>({ type: 'string', enum: ['claude'], description: 'the agent CLI; only claude (Claude Code) for now' });

export const AgentOptionsSchema = Type.Object(
  {
    kind: AgentKindSchema,
    stream_json: Type.Optional(
      Type.Boolean({
        default: true,
        description: 'claude gets `--output-format stream-json --verbose`; sessiond parses stdout into messages and the `agent` summary',
      }),
    ),
    input: Type.Optional(
      Type.Boolean({
        default: false,
        description:
          'stdin is a pipe kept open for POST /input, across restarts of the service; claude gets `--input-format stream-json` and the prompt as its first user message on stdin (needs stream_json)',
      }),
    ),
  },
  { additionalProperties: false, description: 'run the command as an agent session (it must be claude, with a prompt and without args)' },
);
export type AgentOptions = Static<typeof AgentOptionsSchema>;

/** The most UTF-16 units a text input may have (its UTF-8 bytes are checked against 256 KiB too). */
const INPUT_TEXT_MAX = 256 * 1024;

export const AgentInputBodySchema = Type.Union(
  [
    Type.Object({ text: Type.String({ minLength: 1, maxLength: INPUT_TEXT_MAX, description: 'sent as one user message with this text as its content' }) }, { additionalProperties: false }),
    Type.Object(
      {
        message: Type.Object(
          { type: Type.Unsafe<'user'>({ type: 'string', enum: ['user'] }) },
          { additionalProperties: true, description: 'a whole stream-json user message (`{"type":"user","message":{"role":"user","content":...},...}`), written as it is' },
        ),
      },
      { additionalProperties: false },
    ),
  ],
  { $id: 'AgentInput', title: 'AgentInput', description: 'one user message for an agent session started with agent.input: `{text}` or `{message}`' },
);
export type AgentInputBody = Static<typeof AgentInputBodySchema>;

const Count = (description: string) => Nullable(Type.Integer({ minimum: 0, description }));

export const AgentUsageSchema = Type.Object(
  {
    input_tokens: Count('from the last result'),
    output_tokens: Count('from the last result'),
    cache_creation_input_tokens: Count('from the last result'),
    cache_read_input_tokens: Count('from the last result'),
  },
  { additionalProperties: false },
);
export type AgentUsage = Static<typeof AgentUsageSchema>;

/** What sessiond learned from the agent's messages; bounded whatever the agent writes. */
export const AgentSummarySchema = Type.Object(
  {
    kind: AgentKindSchema,
    session_id: Nullable(Type.String({ description: 'the agent’s own session id (from system/init): what continue resumes' })),
    model: Nullable(Type.String({ description: 'from system/init' })),
    num_turns: Count('from the last result message'),
    total_cost_usd: Nullable(Type.Number({ minimum: 0, description: 'from the last result message (an estimate)' })),
    usage: Nullable(AgentUsageSchema),
    duration_ms: Nullable(Type.Number({ minimum: 0, description: 'from the last result message' })),
    is_error: Nullable(Type.Boolean({ description: 'from the last result message' })),
    result: Nullable(Type.String({ description: 'the final text of the last result message, at most 64 KiB (UTF-8)' })),
    result_truncated: Type.Boolean({ description: 'the result was longer than 64 KiB and was cut' }),
    message_count: Type.Integer({ minimum: 0, description: 'messages parsed so far (GET .../agent/messages numbers them 1..message_count)' }),
    last_message_at: Nullable(Timestamp),
  },
  { additionalProperties: false, description: 'null fields until known' },
);
export type AgentSummary = Static<typeof AgentSummarySchema>;

export const AgentMessageSchema = Type.Object(
  {
    n: Type.Integer({ minimum: 1, description: 'its number, from 1, in the order written' }),
    offset: Type.Integer({ minimum: 0, description: 'byte offset of its line in stdout (the raw log route reads it with Range)' }),
    length: Type.Integer({ minimum: 0, description: 'bytes of its line, without the line end' }),
    type: Type.String({ description: 'the message’s `type` (system, assistant, user, result, stream_event, or any other it writes); `text` for a line that is not a JSON object; `unknown` for an object without a usable type' }),
    subtype: Nullable(Type.String()),
    message: Type.Unknown({ description: 'the JSON object exactly as the agent wrote it; for type `text`, the line as a string' }),
  },
  { $id: 'AgentMessage' },
);
export type AgentMessage = Static<typeof AgentMessageSchema>;

export const AgentMessagePageSchema = Type.Object(
  {
    items: Type.Array(ref(AgentMessageSchema)),
    next_after: Type.Integer({ minimum: 0, description: 'pass as ?after= for the next page: the n of the last item (or the after given, when there are none)' }),
    has_more: Type.Boolean({ description: 'more messages are parsed already; false means caught up (more may come while the session runs)' }),
  },
  { $id: 'AgentMessagePage' },
);

export const AgentMessagesQuerySchema = Type.Object({
  after: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0, description: 'messages after this n' }),
  limit: Type.Integer({
    minimum: 1,
    maximum: AGENT_MESSAGES_MAX_LIMIT,
    default: AGENT_MESSAGES_DEFAULT_LIMIT,
    description: 'at most this many; a page also stops after about 4 MiB of messages (a larger message comes alone)',
  }),
});
export type AgentMessagesQuery = Static<typeof AgentMessagesQuerySchema>;
