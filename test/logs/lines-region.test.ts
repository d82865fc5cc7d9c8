// The replay fast path gives exactly what the line-by-line path gives: pushRegion's lines are
// push's lines (however the bytes are split into chunks), and formatLinesEvent frames them as
// formatEvent does, invalid UTF-8 included.
import t from 'tap';
import { LineSplitter } from '../../src/logs/lines.js';
import { formatEvent, formatLinesEvent } from '../../src/logs/sse.js';

const samples = ['a\nb\n', 'one\r\ntwo\rthree\n\nfour', 'é€😀\nx\r', '\r\n\r\n', 'no end', 'a\r', '\n'];

/** Splits `bytes` at every cut point in `cuts`, feeds both paths, and compares. */
function bothPaths(bytes: Buffer, cuts: number[]): { lines: string[]; region: string[]; pending: [number, number] } {
  const slow = new LineSplitter();
  const fast = new LineSplitter();
  const lines: string[] = [];
  const region: string[] = [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    const chunk = bytes.subarray(from, cut);
    lines.push(...slow.push(chunk));
    const got = fast.pushRegion(chunk);
    if (got !== null) region.push(...got.toString('utf8').split(/\r\n|\r|\n/));
    from = cut;
  }
  return { lines, region, pending: [slow.pendingBytes, fast.pendingBytes] };
}

t.test('pushRegion gives the lines push gives, whatever the chunking', async (t) => {
  for (const text of samples) {
    const bytes = Buffer.from(text);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const { lines, region, pending } = bothPaths(bytes, [cut]);
      t.same(region, lines, `${JSON.stringify(text)} cut at ${cut}`);
      t.equal(pending[1], pending[0], 'the same partial line left');
    }
  }
});

t.test('formatLinesEvent frames as formatEvent does', async (t) => {
  const cases: Buffer[] = [Buffer.from('ab\ncd\n\nef'), Buffer.from('x'), Buffer.alloc(0), Buffer.from('\n'), Buffer.from('é\n€'), Buffer.from('a\r\nb\rc'), Buffer.from([0xff, 0x0a, 0xc3])];
  for (const region of cases) {
    const lines = region.toString('utf8').split(/\r\n|\r|\n/);
    t.equal(formatLinesEvent('stdout', region, '1-2').toString(), formatEvent('stdout', lines, '1-2'), JSON.stringify(region.toString('latin1')));
  }
});
