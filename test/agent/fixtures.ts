// Claude Code stream-json transcripts for tests, typed with the message types the Claude Agent SDK
// publishes (its SDKMessage union): if the SDK's shapes change, these stop compiling. Plus what a
// real stdout also holds and the types do not: a message type the SDK does not know (yet), and a
// line that is not JSON at all.
import type {
  NonNullableUsage,
  SDKAssistantMessage,
  SDKMessage,
  SDKPartialAssistantMessage,
  SDKResultMessage,
  SDKSystemMessage,
  SDKUserMessage,
} from '@anthropic-ai/claude-agent-sdk';

/** Stands for the agent session id in a transcript; the stand-in claude puts the real one in. */
export const SESSION = '@SESSION@';
export const MODEL = 'claude-opus-4-8';
/** Unicode of every width: accents, a check mark, CJK, an emoji (a surrogate pair), a line separator. */
export const UNICODE = 'héllo ✓ 日本語 🎉 \u2028 end';
export const RESULT_TEXT = `Done: fixed the flaky test. ${UNICODE}`;

const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}` as const;

const usage = {
  input_tokens: 1200,
  output_tokens: 340,
  cache_creation_input_tokens: 10,
  cache_read_input_tokens: 20,
  cache_creation: { ephemeral_1h_input_tokens: 0, ephemeral_5m_input_tokens: 10 },
  server_tool_use: { web_fetch_requests: 0, web_search_requests: 0 },
  output_tokens_details: { thinking_tokens: 0 },
  fallback_credit: null,
  service_tier: 'standard',
  inference_geo: '',
  iterations: [],
  speed: 'standard',
} satisfies NonNullableUsage;

export const init = {
  type: 'system',
  subtype: 'init',
  apiKeySource: 'none',
  claude_code_version: '2.1.197',
  cwd: '/workspace',
  tools: ['Bash', 'Read', 'Edit'],
  mcp_servers: [],
  model: MODEL,
  permissionMode: 'default',
  slash_commands: [],
  output_style: 'default',
  skills: [],
  plugins: [],
  uuid: uuid(1),
  session_id: SESSION,
} satisfies SDKSystemMessage;

function assistant(n: number, content: SDKAssistantMessage['message']['content']): SDKAssistantMessage {
  return {
    type: 'assistant',
    message: {
      id: `msg_${n}`,
      container: null,
      content,
      context_management: null,
      diagnostics: null,
      stop_details: null,
      model: MODEL,
      role: 'assistant',
      stop_reason: null,
      stop_sequence: null,
      type: 'message',
      usage,
    },
    parent_tool_use_id: null,
    uuid: uuid(n),
    session_id: SESSION,
  };
}

export const thinking = assistant(2, [{ type: 'text', text: `Let me look. ${UNICODE}`, citations: null }]);
export const toolUse = assistant(3, [{ type: 'tool_use', id: 'toolu_01', name: 'Bash', input: { command: 'npm test' } }]);

/** A tool result; `content` is what the tool printed (a test makes it large). */
export function toolResult(content: string): SDKUserMessage {
  return {
    type: 'user',
    message: { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01', content }] },
    parent_tool_use_id: null,
    session_id: SESSION,
    uuid: uuid(4),
  };
}

export const streamEvent = {
  type: 'stream_event',
  event: { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Do' } },
  parent_tool_use_id: null,
  uuid: uuid(5),
  session_id: SESSION,
} satisfies SDKPartialAssistantMessage;

export const result = {
  type: 'result',
  subtype: 'success',
  duration_ms: 4321,
  duration_api_ms: 4000,
  is_error: false,
  num_turns: 3,
  result: RESULT_TEXT,
  stop_reason: 'end_turn',
  total_cost_usd: 0.0123,
  usage,
  modelUsage: {},
  permission_denials: [],
  uuid: uuid(6),
  session_id: SESSION,
} satisfies SDKResultMessage;

/** A message type this SDK version does not know: kept as it is. */
export const unknownType = { type: 'vendor_telemetry', subtype: 'tick', payload: { ok: true, text: UNICODE }, session_id: SESSION };
/** What a CLI may print that is not JSON at all. */
export const NOT_JSON = `warning: something odd ✓ {not json`;

/** The transcript lines of a whole run, as claude writes them (one JSON text per line). */
export function transcript(toolOutput = 'PASS 12 tests'): string[] {
  const messages: Array<SDKMessage | typeof unknownType> = [init, thinking, toolUse, toolResult(toolOutput), streamEvent, unknownType, result];
  const lines = messages.map((m) => JSON.stringify(m));
  // The non-JSON line goes in the middle, where a parser that gave up at it would lose the rest.
  lines.splice(5, 0, NOT_JSON);
  return lines;
}

/** The type and subtype each line of transcript() is indexed with. */
export const TRANSCRIPT_TYPES: Array<[string, string | null]> = [
  ['system', 'init'],
  ['assistant', null],
  ['assistant', null],
  ['user', null],
  ['stream_event', null],
  ['text', null],
  ['vendor_telemetry', 'tick'],
  ['result', 'success'],
];
