// The agent summary of a session, folded message by message from what claude writes on stdout.
// Pure and bounded: only fields of known shape are taken, strings are capped, anything else in a
// message is left to the messages themselves. Every field is "the latest seen", so folding the
// same message twice (after a restart) changes nothing but the count.
import { AGENT_RESULT_MAX_BYTES, type AgentSummary, type AgentUsage } from '../../schemas/agent.js';

/** An agent session id is passed back to claude as `--resume <id>`: never something an option could be read from. */
const AGENT_SESSION_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
const MODEL_MAX = 200;
const USAGE_KEYS = ['input_tokens', 'output_tokens', 'cache_creation_input_tokens', 'cache_read_input_tokens'] as const;

export function emptySummary(): AgentSummary {
  return {
    kind: 'claude',
    session_id: null,
    model: null,
    num_turns: null,
    total_cost_usd: null,
    usage: null,
    duration_ms: null,
    is_error: null,
    result: null,
    result_truncated: false,
    message_count: 0,
    last_message_at: null,
  };
}

const count = (value: unknown): number | null => (Number.isSafeInteger(value) && (value as number) >= 0 ? (value as number) : null);
const amount = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : null);

function usageOf(value: unknown): AgentUsage | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const source = value as Record<string, unknown>;
  const usage = {} as AgentUsage;
  for (const key of USAGE_KEYS) usage[key] = count(source[key]);
  return usage;
}

/** `text` cut to at most `maxBytes` of UTF-8, at a character boundary. */
export function capUtf8(text: string, maxBytes: number): { text: string; truncated: boolean } {
  // Every UTF-16 unit is at most 3 bytes: a short string needs no measuring.
  if (text.length * 3 <= maxBytes || Buffer.byteLength(text, 'utf8') <= maxBytes) return { text, truncated: false };
  let cut = Buffer.from(text, 'utf8').subarray(0, maxBytes).toString('utf8');
  // The last character may have been cut in two: it decodes to U+FFFD and goes.
  if (cut.endsWith('\ufffd')) cut = cut.slice(0, -1);
  return { text: cut, truncated: true };
}

/**
 * The summary after one more message. `message` is the parsed object (or, for a line too large
 * to parse whole, the few top-level members the scanner kept), null for a line that is not a JSON
 * object; `at` is when it was written, as far as the service knows.
 */
export function foldMessage(summary: AgentSummary, message: Record<string, unknown> | null, at: string | null): AgentSummary {
  const next: AgentSummary = { ...summary, message_count: summary.message_count + 1, last_message_at: at ?? summary.last_message_at };
  if (message === null) return next;
  if (message.type === 'system' && message.subtype === 'init') {
    if (typeof message.session_id === 'string' && AGENT_SESSION_ID.test(message.session_id)) next.session_id = message.session_id;
    if (typeof message.model === 'string') next.model = capUtf8(message.model, MODEL_MAX).text;
  }
  if (message.type === 'result') {
    next.num_turns = count(message.num_turns);
    next.total_cost_usd = amount(message.total_cost_usd);
    next.usage = usageOf(message.usage);
    next.duration_ms = amount(message.duration_ms);
    next.is_error = typeof message.is_error === 'boolean' ? message.is_error : null;
    const result = typeof message.result === 'string' ? capUtf8(message.result, AGENT_RESULT_MAX_BYTES) : null;
    next.result = result?.text ?? null;
    next.result_truncated = result?.truncated ?? false;
  }
  return next;
}

/** Whether two summaries say the same (a change worth recording). */
export function sameSummary(a: AgentSummary | null, b: AgentSummary | null): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
