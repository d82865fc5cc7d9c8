// What POST /v1/sessions/{id}/input writes to an agent's stdin: one stream-json user message per
// line, as claude reads it with `--input-format stream-json` (the Agent SDK's SDKUserMessage).
import type { AgentInputBody } from '../../schemas/agent.js';

/** The largest message one input may write, in bytes (the keeper's pipe holds 1 MiB). */
export const AGENT_INPUT_MAX_BYTES = 256 * 1024;

/** A user message with `text` as its content. */
export function userMessage(text: string): Record<string, unknown> {
  return { type: 'user', message: { role: 'user', content: text }, parent_tool_use_id: null, session_id: '' };
}

/** The line written for an input body: `text` wrapped as a user message, or `message` as it is. */
export function inputLine(body: AgentInputBody): string {
  const message = 'text' in body ? userMessage(body.text) : body.message;
  // JSON.stringify escapes every newline inside strings, so the message is exactly one line.
  return `${JSON.stringify(message)}\n`;
}
