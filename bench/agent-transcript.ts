// A realistic Claude Code stream-json transcript (init, streamed text deltas, tool calls and
// their results, the result), one chunk per write: what the log index costs is measured on it.
export function agentTranscript(turns: number): Buffer[] {
  const chunks: Buffer[] = [];
  const line = (o: object) => Buffer.from(`${JSON.stringify(o)}\n`);
  chunks.push(line({ type: 'system', subtype: 'init', session_id: '0b6f8d3e-1c2a-4b7e-9f00-5d2c7a1e9b42', model: 'claude-sonnet-4-5', tools: ['Bash', 'Read', 'Edit', 'Write', 'Grep', 'Glob'], cwd: '/work/project' }));
  for (let turn = 0; turn < turns; turn++) {
    for (let d = 0; d < 12; d++) {
      chunks.push(line({ type: 'stream_event', event: { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: `Looking at the failing test in step ${turn}.${d}: ` } }, session_id: '0b6f8d3e' }));
    }
    chunks.push(line({ type: 'assistant', message: { id: `msg_${turn}`, role: 'assistant', content: [{ type: 'tool_use', id: `toolu_${turn}`, name: 'Bash', input: { command: `npx tap dist/test/case-${turn}.test.js` } }], usage: { input_tokens: 1200 + turn, output_tokens: 85 } } }));
    chunks.push(line({ type: 'user', message: { role: 'user', content: [{ type: 'tool_result', tool_use_id: `toolu_${turn}`, content: 'ok 1 - case\n'.repeat(20 + (turn % 40)) }] } }));
  }
  chunks.push(line({ type: 'result', subtype: 'success', is_error: false, num_turns: turns, total_cost_usd: 0.42, duration_ms: 93000, result: 'All tests pass.' }));
  return chunks;
}
