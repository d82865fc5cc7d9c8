// The Engine's multiplexed stream split into frames (no engine needed): frames cut anywhere across
// chunks come out whole, in order, stdout and stderr told apart, bytes untouched; and the pump
// appends them to the log files after skipping what an earlier pump wrote.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import t from 'tap';
import { createFrameSplitter } from '../../src/process/docker-frames.js';
import { openLogFiles, pumpFrames, writtenBytes } from '../../src/process/docker-logs.js';

function frame(type: number, bytes: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header[0] = type;
  header.writeUInt32BE(bytes.length, 4);
  return Buffer.concat([header, bytes]);
}

const STREAM = Buffer.concat([
  frame(1, Buffer.from([0x61, 0xff, 0xfe, 0x0d, 0x0a])),
  frame(2, Buffer.from('err\n')),
  frame(0, Buffer.from('stdin never shows')),
  frame(1, Buffer.alloc(70000, 'x')),
  frame(1, Buffer.alloc(0)),
  frame(2, Buffer.from('tail')),
]);

t.test('frames come out whole and in order however the stream is cut', async (t) => {
  for (const size of [1, 3, 8, 9, 4096, STREAM.length]) {
    const splitter = createFrameSplitter();
    const frames = [];
    for (let i = 0; i < STREAM.length; i += size) frames.push(...splitter.push(STREAM.subarray(i, i + size)));
    t.same(
      frames.map((f) => [f.stream, f.bytes.length]),
      [
        ['stdout', 5],
        ['stderr', 4],
        ['stdout', 70000],
        ['stdout', 0],
        ['stderr', 4],
      ],
      `chunks of ${size}`,
    );
    t.ok(frames[0]!.bytes.equals(Buffer.from([0x61, 0xff, 0xfe, 0x0d, 0x0a])), 'bytes untouched');
    t.equal(splitter.pending(), 0, 'nothing held back');
  }
  const splitter = createFrameSplitter();
  splitter.push(STREAM.subarray(0, 10));
  t.equal(splitter.pending(), 10, 'a cut frame is held until the rest comes');
});

t.test('the pump appends both streams and skips what is already written', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sessiond-frames-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  const files = { stdoutPath: path.join(dir, 'stdout.log'), stderrPath: path.join(dir, 'stderr.log') };
  t.same(await writtenBytes(files), { stdout: 0, stderr: 0 }, 'missing files hold nothing');
  // An earlier pump wrote the first 3 bytes of stdout and all of "err\n".
  await fs.writeFile(files.stdoutPath, Buffer.from([0x61, 0xff, 0xfe]));
  await fs.writeFile(files.stderrPath, 'err\n');
  const skip = await writtenBytes(files);
  const pump = pumpFrames(Readable.from([STREAM.subarray(0, 20), STREAM.subarray(20)]), await openLogFiles(files), skip);
  await pump.done;
  t.equal(pump.error(), null);
  t.ok((await fs.readFile(files.stdoutPath)).equals(Buffer.concat([Buffer.from([0x61, 0xff, 0xfe, 0x0d, 0x0a]), Buffer.alloc(70000, 'x')])), 'stdout: every byte once');
  t.equal(await fs.readFile(files.stderrPath, 'utf8'), 'err\ntail', 'stderr: every byte once');
});
