// Parsing claude's stream-json stdout: the line parser gives the same messages however the bytes
// are cut into reads, starts again at any line start, serves JSON verbatim and keeps what is not
// JSON; the streaming scanner for huge lines agrees with JSON.parse on what is a JSON object; the
// summary is bounded.
import fc from 'fast-check';
import t from 'tap';
import { AGENT_RESULT_MAX_BYTES } from '../../schemas/agent.js';
import { JsonObjectScanner } from '../../src/agent/json-scanner.js';
import { INLINE_MAX, Kind, LineParser, type LineFact } from '../../src/agent/line-parser.js';
import { emptySummary, foldMessage } from '../../src/agent/summary.js';
import { MODEL, RESULT_TEXT, TRANSCRIPT_TYPES, UNICODE, result, toolResult, transcript } from './fixtures.js';

const WANTED = new Set(['type', 'subtype', 'result', 'usage', 'num_turns']);

function scan(bytes: Buffer, cuts: number[] = [], maxBytes = 1 << 20) {
  const scanner = new JsonObjectScanner(WANTED, maxBytes);
  let from = 0;
  for (const cut of [...cuts.filter((c) => c > 0 && c < bytes.length).sort((a, b) => a - b), bytes.length]) {
    scanner.push(bytes.subarray(from, cut));
    from = cut;
  }
  return scanner.finish();
}

/** What the scanner must say: a JSON object, in valid UTF-8 (JSON.parse is the judge). */
function isJsonObject(bytes: Buffer): boolean {
  if (!Buffer.from(bytes.toString('utf8'), 'utf8').equals(bytes)) return false;
  try {
    const value = JSON.parse(bytes.toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value);
  } catch {
    return false;
  }
}

function parseAll(bytes: Buffer, cuts: number[], start = 0): { facts: LineFact[]; parser: LineParser } {
  const parser = new LineParser(start);
  const facts: LineFact[] = [];
  let from = 0;
  for (const cut of [...cuts.filter((c) => c > 0 && c < bytes.length).sort((a, b) => a - b), bytes.length]) {
    facts.push(...parser.push(bytes.subarray(from, cut)));
    from = cut;
  }
  return { facts, parser };
}

t.test('the scanner agrees with JSON.parse on what is a JSON object, however the line is cut', async (t) => {
  const objects = fc.dictionary(fc.string({ unit: 'binary' }), fc.jsonValue()).map((o) => JSON.stringify(o));
  const anyJson = fc.oneof(fc.json(), objects, objects.map((s) => ` \t${s}\r `));
  // Broken on purpose: a character dropped, doubled or replaced somewhere in a JSON text.
  const mutated = fc.tuple(objects, fc.nat(), fc.constantFrom('', '"', '\\', '{', '}', ',', ':', '0', 'e', '-', '\u0001', ' ', 'x')).map(([s, at, c]) => {
    const i = at % (s.length + 1);
    return s.slice(0, i) + c + s.slice(i + (at % 2));
  });
  const cuts = fc.array(fc.nat({ max: 400 }), { maxLength: 6 });
  fc.assert(
    fc.property(fc.oneof(anyJson, mutated, fc.string({ unit: 'binary' })), cuts, (text, at) => {
      const bytes = Buffer.from(text, 'utf8');
      return scan(bytes, at).object === isJsonObject(bytes);
    }),
    { numRuns: 3000 },
  );
  // Any bytes inside a string, cut anywhere: valid UTF-8 or not, the scanner agrees.
  const stringBytes = fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a.filter((b) => b >= 0x20 && b !== 0x22 && b !== 0x5c)));
  fc.assert(
    fc.property(fc.array(fc.oneof(stringBytes, fc.string({ unit: 'binary' }).map((x) => Buffer.from(x))), { maxLength: 4 }), cuts, (parts, at) => {
      const bytes = Buffer.concat([Buffer.from('{"a":"'), ...parts, Buffer.from('"}')]);
      return scan(bytes, at.map((c) => c % (bytes.length + 1))).object === isJsonObject(bytes);
    }),
    { numRuns: 3000 },
  );
  // Invalid UTF-8 inside a string, and an overlong encoding: not taken for JSON text.
  t.notOk(scan(Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xc3]), Buffer.from('"}')])).object, 'a cut character');
  t.notOk(scan(Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')])).object, 'an overlong encoding');
  t.notOk(scan(Buffer.from('{"a":1} {"b":2}')).object, 'two objects on one line');
  t.notOk(scan(Buffer.from(`{"a":${'['.repeat(10000)}${']'.repeat(10000)}}`)).object, 'nesting deeper than the bound is not a message');
});

t.test('the scanner keeps the wanted top-level members, parsed, and only those', async (t) => {
  fc.assert(
    fc.property(fc.dictionary(fc.constantFrom('type', 'subtype', 'result', 'other', 'usage'), fc.jsonValue()), fc.array(fc.nat({ max: 300 })), (object, cuts) => {
      const { object: ok, fields } = scan(Buffer.from(JSON.stringify({ nested: { type: 'not me' }, ...object })), cuts);
      const expected = Object.fromEntries(Object.entries(JSON.parse(JSON.stringify(object)) as object).filter(([k]) => WANTED.has(k)));
      return ok && JSON.stringify(fields) === JSON.stringify(expected);
    }),
    { numRuns: 1000 },
  );
  // A string past the bound keeps its start, cut at a character, never inside an escape or a pair.
  const long = `${'a\\"é🎉\n'.repeat(5000)}`;
  for (const bound of [100, 101, 102, 103, 104, 105, 106, 107, 1000]) {
    const { fields } = scan(Buffer.from(JSON.stringify({ type: 'result', result: long })), [37, 500], bound);
    const kept = fields.result as string;
    t.ok(long.startsWith(kept) && kept.length > 0 && kept.length < long.length, `bound ${bound}: a prefix of ${kept.length} characters`);
    t.equal(fields.type, 'result');
  }
  t.notOk('usage' in scan(Buffer.from(JSON.stringify({ usage: { big: 'x'.repeat(5000) } })), [], 100).fields, 'an object past the bound is dropped');
});

t.test('the line parser gives the same messages however the bytes arrive', async (t) => {
  const lines = [...transcript(), '', '{"type":"assistant"}', '[1,2,3]', '"a string"', 'null', '{"type":"x\\u0000bad name","subtype":7}'];
  // CRLF on one line: the \r belongs to the line end, not to the message.
  const text = `${lines.join('\n').replace('{"type":"assistant"}\n', '{"type":"assistant"}\r\n')}\n`;
  const bytes = Buffer.from(text, 'utf8');
  const whole = parseAll(bytes, []).facts;
  t.equal(whole.length, lines.length, 'one message per line, empty and odd lines included');
  t.same(
    whole.slice(0, TRANSCRIPT_TYPES.length).map((f) => [f.type, f.subtype]),
    TRANSCRIPT_TYPES,
    'types and subtypes as written; the non-JSON line is text; the unknown type kept',
  );
  t.same(
    whole.slice(TRANSCRIPT_TYPES.length).map((f) => [f.type, f.subtype, f.kind]),
    [
      ['text', null, Kind.Text],
      ['assistant', null, Kind.Json],
      ['text', null, Kind.Text],
      ['text', null, Kind.Text],
      ['text', null, Kind.Text],
      ['unknown', null, Kind.Json],
    ],
    'an empty line, arrays, strings and null are text; a type that is not a plain name is unknown',
  );
  for (const fact of whole) {
    const line = bytes.subarray(fact.offset, fact.offset + fact.length).toString('utf8');
    if (fact.kind === Kind.Json) t.doesNotThrow(() => JSON.parse(line));
    t.notOk(line.includes('\n') || line.endsWith('\r'), `line at ${fact.offset}: no line end inside`);
    t.equal(bytes[fact.offset + fact.length], fact.term === 2 ? 0x0d : 0x0a, 'the line end follows');
  }
  fc.assert(
    fc.property(fc.array(fc.nat({ max: bytes.length }), { maxLength: 20 }), (cuts) => JSON.stringify(parseAll(bytes, cuts).facts) === JSON.stringify(whole)),
    { numRuns: 300 },
  );
  // Started again at any line start (a checkpoint), it finds the same messages from there on.
  for (const [i, fact] of whole.entries()) {
    const rest = parseAll(bytes.subarray(fact.offset), [7, 300], fact.offset).facts;
    t.same(rest, whole.slice(i), `from the line start at ${fact.offset}`);
  }
  // The last line without a newline counts only once nothing more will be written.
  const open = parseAll(Buffer.from('{"type":"result"}\n{"type":"assi'), []);
  t.equal(open.facts.length, 1);
  t.equal(open.parser.lineStart, 18, 'the checkpoint stays at the start of the unfinished line');
  t.equal(open.parser.flush()?.type, 'text', 'flushed at the end: an unfinished JSON text is kept as text');
});

t.test('a line over 1 MiB is scanned, never kept, and classified as JSON.parse would', async (t) => {
  const big = JSON.stringify(toolResult(`${UNICODE}\n${'x'.repeat(3 * INLINE_MAX)}`));
  const bytes = Buffer.from(`${big}\r\n${JSON.stringify(result)}\nnot json ${'y'.repeat(2 * INLINE_MAX)}\n`);
  const { facts } = parseAll(bytes, [5, 65536, INLINE_MAX, INLINE_MAX + 1, 2 * INLINE_MAX]);
  t.same(
    facts.map((f) => [f.type, f.subtype, f.kind, f.length, f.term]),
    [
      ['user', null, Kind.Json, Buffer.byteLength(big), 2],
      ['result', 'success', Kind.Json, Buffer.byteLength(JSON.stringify(result)), 1],
      ['text', null, Kind.Text, 9 + 2 * INLINE_MAX, 1],
    ],
  );
  // A result line over the limit still gives its summary fields, the text cut at 64 KiB.
  const huge = { ...result, result: `${'é'.repeat(INLINE_MAX)}` };
  const [fact] = parseAll(Buffer.from(`${JSON.stringify(huge)}\n`), [100000]).facts;
  t.equal(fact?.kind, Kind.Json);
  const summary = foldMessage(emptySummary(), fact?.message ?? null, '2026-01-01T00:00:00.000Z');
  t.equal(summary.result_truncated, true);
  t.equal(Buffer.byteLength(summary.result ?? ''), AGENT_RESULT_MAX_BYTES, 'exactly 64 KiB: 2-byte characters fit');
  t.match(summary, { num_turns: 3, total_cost_usd: 0.0123, is_error: false, duration_ms: 4321 });
});

t.test('the summary of a transcript: session id and model from init, the rest from the result', async (t) => {
  const lines = transcript().map((line) => line.replaceAll('@SESSION@', '6f3b0c8e-8b1a-4a55-9a53-2b1c1d2e3f40'));
  const { facts } = parseAll(Buffer.from(`${lines.join('\n')}\n`), []);
  let summary = emptySummary();
  facts.forEach((fact, i) => {
    summary = foldMessage(summary, fact.message, `2026-01-01T00:00:0${i}.000Z`);
  });
  t.same(summary, {
    kind: 'claude',
    session_id: '6f3b0c8e-8b1a-4a55-9a53-2b1c1d2e3f40',
    model: MODEL,
    num_turns: 3,
    total_cost_usd: 0.0123,
    usage: { input_tokens: 1200, output_tokens: 340, cache_creation_input_tokens: 10, cache_read_input_tokens: 20 },
    duration_ms: 4321,
    is_error: false,
    result: RESULT_TEXT,
    result_truncated: false,
    message_count: 8,
    last_message_at: '2026-01-01T00:00:07.000Z',
  });
  // A session id that could be read as an option (or anything not an id) is never taken.
  const sneaky = foldMessage(emptySummary(), { type: 'system', subtype: 'init', session_id: '--dangerously-skip-permissions', model: 'm'.repeat(500) }, null);
  t.equal(sneaky.session_id, null);
  t.equal(sneaky.model?.length, 200, 'the model name is bounded');
  t.equal(foldMessage(emptySummary(), { type: 'result', num_turns: -1, total_cost_usd: 'free', usage: [1] }, null).num_turns, null, 'values of the wrong shape are null');
});
