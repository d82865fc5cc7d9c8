// The log index: entries round-trip, `since` finds each stream's first byte at or after a time,
// and the index costs a few % of the log for typical agent output (stream-json lines).
import t from 'tap';
import { decodeEntries, emptyIndexState, encodeEntry, offsetsSince } from '../../src/logs/time-index.js';
import { MemoryStore } from '../fakes/memory-store.js';
import { agentTranscript } from '../../bench/agent-transcript.js';

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
