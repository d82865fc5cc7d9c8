// The log index: entries round-trip, `since` finds each stream's first byte at or after a time,
// and the index costs a few % of the log for typical agent output (stream-json lines).
import t from 'tap';
import { decodeEntries, emptyIndexState, encodeEntry, offsetsSince } from '../../src/logs/time-index.js';
import { MemoryStore } from '../fakes/memory-store.js';

t.test('entries round-trip in order, with times and both streams', async (t) => {
  const enc = emptyIndexState();
  const base = Date.UTC(2026, 0, 1);
  const bufs = [
    encodeEntry(enc, base, 'stdout', 10),
    encodeEntry(enc, base + 150, 'stderr', 7),
    encodeEntry(enc, base + 300, 'stdout', 25),
    encodeEntry(enc, base + 299, 'stderr', 3), // the clock stepped back; the log shrank
  ];
  const all = Buffer.concat(bufs);
  // A torn last entry is left for later, never misread.
  const torn = decodeEntries(emptyIndexState(), all.subarray(0, all.length - 1));
  t.equal(torn.entries.length, 3);
  const { entries, used } = decodeEntries(emptyIndexState(), all);
  t.equal(used, all.length);
  t.same(
    entries.map((e) => [e.seq, e.t - base, e.stream, e.start, e.end]),
    [
      [0, 0, 'stdout', 0, 10],
      [1, 150, 'stderr', 0, 7],
      [2, 300, 'stdout', 10, 25],
      [3, 300, 'stderr', 3, 3],
    ],
  );
});

t.test('offsetsSince: each stream from its first chunk at or after the time', async (t) => {
  const store = new MemoryStore();
  const state = emptyIndexState();
  const base = 1_700_000_000_000;
  await store.appendLogIndex('s', Buffer.concat([
    encodeEntry(state, base, 'stdout', 5),
    encodeEntry(state, base + 100, 'stdout', 12),
    encodeEntry(state, base + 200, 'stderr', 4),
    encodeEntry(state, base + 300, 'stdout', 20),
  ]));
  t.same(await offsetsSince(store, 's', base + 50), { stdout: 5, stderr: 0 });
  t.same(await offsetsSince(store, 's', base + 250), { stdout: 12, stderr: 4 });
  t.same(await offsetsSince(store, 's', base + 1000), { stdout: 20, stderr: 4 });
  t.same(await offsetsSince(store, 's', 0), { stdout: 0, stderr: 0 });
});

/** A realistic Claude Code stream-json transcript: init, streamed deltas, tool calls and results. */
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

t.test('the index costs at most a few % of typical agent output (one entry per write)', async (t) => {
  const state = emptyIndexState();
  let t0 = Date.now();
  let logBytes = 0;
  let indexBytes = 0;
  for (const chunk of agentTranscript(200)) {
    logBytes += chunk.length;
    t0 += 40;
    indexBytes += encodeEntry(state, t0, 'stdout', logBytes).length;
  }
  const overhead = indexBytes / logBytes;
  t.comment(`index ${indexBytes} bytes for ${logBytes} bytes of output: ${(overhead * 100).toFixed(2)}%`);
  t.ok(overhead < 0.05, `overhead ${(overhead * 100).toFixed(2)}% is under 5%`);
});
