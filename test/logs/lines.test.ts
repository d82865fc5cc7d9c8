// LineSplitter: bytes in, complete lines out. `\n`, `\r\n` and a lone `\r` each end a line, a
// `\r\n` split across two reads is one line end, and a UTF-8 character split across reads is
// joined before decoding (never U+FFFD).
import t from 'tap';
import { LineSplitter } from '../../src/logs/lines.js';

const b = (text: string) => Buffer.from(text, 'utf8');

t.test('\\n ends a line; the rest waits as pending', async (t) => {
  const s = new LineSplitter();
  t.same(s.push(b('one\ntwo\nthr')), ['one', 'two']);
  t.equal(s.pendingBytes, 3, 'the partial "thr" is pending');
  t.same(s.push(b('ee\n')), ['three'], 'the partial line is joined with what follows');
  t.equal(s.pendingBytes, 0);
});

t.test('empty lines are lines', async (t) => {
  const s = new LineSplitter();
  t.same(s.push(b('\n\na\n\n')), ['', '', 'a', '']);
  t.equal(s.pendingBytes, 0);
});

t.test('\\r\\n is one line end', async (t) => {
  const s = new LineSplitter();
  t.same(s.push(b('one\r\ntwo\r\n')), ['one', 'two']);
  t.equal(s.pendingBytes, 0);
  t.same(s.push(b('\r\n')), [''], 'a \\r\\n alone is one empty line, not two');
});

t.test('a lone \\r ends a line', async (t) => {
  const s = new LineSplitter();
  t.same(s.push(b('progress 1\rprogress 2\rdone\n')), ['progress 1', 'progress 2', 'done']);
  t.same(s.push(b('a\r\rb\n')), ['a', '', 'b'], 'two lone \\r are two line ends');
  t.same(s.push(b('\n\r')), ['', ''], 'a \\r at the end of a chunk ends its line at once');
});

t.test('\\r at the end of one chunk and \\n at the start of the next: one line end', async (t) => {
  const s = new LineSplitter();
  t.same(s.push(b('one\r')), ['one'], 'the line is given out at the \\r');
  t.equal(s.pendingBytes, 0);
  t.same(s.push(b('\ntwo\n')), ['two'], 'the \\n completes the \\r\\n: no empty line');
  t.equal(s.pendingBytes, 0);

  t.same(s.push(b('x\r')), ['x']);
  t.same(s.push(b('')), [], 'an empty push changes nothing');
  t.same(s.push(b('\n')), [], 'the \\n after an empty push still belongs to the \\r');

  t.same(s.push(b('y\r')), ['y']);
  t.same(s.push(b('z\n')), ['z'], 'a \\r followed by something else was a lone \\r');

  t.same(s.push(b('\r')), ['']);
  t.same(s.push(b('\r')), [''], 'a \\r after a \\r is a second line end');
  t.same(s.push(b('\n')), [], 'and the \\n after it joins only the last one');
});

t.test('resumeAfterCR: a stream resumed right after a \\r skips the \\n that completes it', async (t) => {
  const s = new LineSplitter();
  s.resumeAfterCR();
  t.same(s.push(b('\nnext\n')), ['next'], 'no empty line for the second half of \\r\\n');

  const other = new LineSplitter();
  other.resumeAfterCR();
  t.same(other.push(b('next\n')), ['next'], 'nothing is skipped when no \\n follows');

  const third = new LineSplitter();
  third.resumeAfterCR();
  t.same(third.push(b('\n')), []);
  t.same(third.push(b('\n')), [''], 'only the first \\n is skipped');
});

t.test('a UTF-8 character split across two pushes is joined, never U+FFFD', async (t) => {
  const text = 'héllo ✓ 😀\n';
  const bytes = b(text);
  // Every split point, including inside each multi-byte character.
  for (let cut = 0; cut <= bytes.length; cut++) {
    const s = new LineSplitter();
    const lines = [...s.push(bytes.subarray(0, cut)), ...s.push(bytes.subarray(cut))];
    t.same(lines, ['héllo ✓ 😀'], `split at byte ${cut}`);
  }
  // Byte by byte.
  const s = new LineSplitter();
  const lines: string[] = [];
  for (const byte of bytes) lines.push(...s.push(Buffer.from([byte])));
  t.same(lines, ['héllo ✓ 😀']);
  t.notMatch(lines.join(''), /\uFFFD/);
});

t.test('flushPartial gives the partial line up to its last complete character', async (t) => {
  const s = new LineSplitter();
  t.equal(s.flushPartial(), null, 'nothing pending: null');
  const check = b('✓'); // e2 9c 93
  t.same(s.push(Buffer.concat([b('ok '), check.subarray(0, 2)])), []);
  t.equal(s.pendingBytes, 5);
  t.equal(s.flushPartial(), 'ok ', 'the complete part is given out');
  t.equal(s.pendingBytes, 2, 'the incomplete character stays pending');
  t.equal(s.flushPartial(), null, 'only an incomplete character: nothing to give');
  t.equal(s.pendingBytes, 2);
  t.same(s.push(Buffer.concat([check.subarray(2), b(' done\n')])), ['✓ done'], 'the character is completed, not lost or doubled');
  t.equal(s.pendingBytes, 0);

  const whole = new LineSplitter();
  whole.push(b('no newline'));
  t.equal(whole.flushPartial(), 'no newline');
  t.equal(whole.pendingBytes, 0, 'what was flushed counts as sent');
  t.same(whole.push(b(' more\n')), [' more'], 'the rest of the line comes after, without the flushed part');

  const emoji = new LineSplitter();
  const face = b('😀');
  emoji.push(face.subarray(0, 3));
  t.equal(emoji.flushPartial(), null, '3 of 4 bytes of an emoji are held');
  emoji.push(face.subarray(3));
  t.equal(emoji.flushPartial(), '😀');
});

t.test('flushPartial(true): at the very end an unfinished character goes out too', async (t) => {
  const s = new LineSplitter();
  s.push(Buffer.concat([b('end '), b('✓').subarray(0, 2)]));
  t.equal(s.flushPartial(), 'end ', 'not final: the unfinished character is held');
  t.equal(s.flushPartial(true), '\uFFFD', 'final: it is given out, decoded as U+FFFD');
  t.equal(s.pendingBytes, 0, 'nothing is left: every byte counts as sent');
  t.equal(s.flushPartial(true), null, 'nothing pending: null');
  const stray = new LineSplitter();
  stray.push(Buffer.from([0x61, 0xff]));
  t.equal(stray.flushPartial(true), 'a\uFFFD', 'a stray byte that is not UTF-8, at the end');
  t.equal(stray.pendingBytes, 0);
});

t.test('pendingBytes counts the bytes not given out yet, across pushes', async (t) => {
  const s = new LineSplitter();
  s.push(b('abc'));
  s.push(b('def'));
  t.equal(s.pendingBytes, 6);
  t.same(s.push(b('g\nhi')), ['abcdefg']);
  t.equal(s.pendingBytes, 2);
  t.same(s.push(b('\r')), ['hi']);
  t.equal(s.pendingBytes, 0, 'a line end given out is not pending, nor is its \\r');
  s.push(b('\n'));
  t.equal(s.pendingBytes, 0, 'the \\n completing \\r\\n is not pending either');
  // The invariant the SSE ids rely on: bytes fed - pendingBytes = bytes given out (lines and their ends).
  const input = b('α\r\nβ\rγ\nδ partial');
  const t2 = new LineSplitter();
  let fed = 0;
  let out = 0;
  for (let i = 0; i < input.length; i += 3) {
    const chunk = input.subarray(i, i + 3);
    fed += chunk.length;
    t2.push(chunk);
    out = fed - t2.pendingBytes;
    t.ok(out >= 0 && out <= fed);
  }
  t.equal(fed - t2.pendingBytes, input.indexOf(b('δ')), 'everything up to the partial line was given out');
});

t.test('reset forgets the pending bytes and the \\r state', async (t) => {
  const s = new LineSplitter();
  s.push(b('half a line'));
  s.reset();
  t.equal(s.pendingBytes, 0);
  t.equal(s.flushPartial(), null);
  t.same(s.push(b('new\n')), ['new'], 'the old partial is gone');

  const cr = new LineSplitter();
  cr.push(b('x\r'));
  cr.reset();
  t.same(cr.push(b('\n')), [''], 'after reset a \\n is a line end of its own');
});

t.test('a long chunk with many lines of every kind', async (t) => {
  const want: string[] = [];
  let text = '';
  const ends = ['\n', '\r\n', '\r'];
  for (let i = 0; i < 500; i++) {
    const line = `line ${i} ✓`;
    want.push(line);
    text += line + ends[i % 3];
  }
  const bytes = b(text);
  const s = new LineSplitter();
  const got: string[] = [];
  for (let i = 0; i < bytes.length; i += 97) got.push(...s.push(bytes.subarray(i, i + 97)));
  t.same(got, want);
  t.equal(s.pendingBytes, 0);
});
