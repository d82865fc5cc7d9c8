// The log cap's pure parts (where to cut, the retained file), the cap against a real file (the
// window is recorded before the punch; an unsupported punch puts it back), and a reader that
// never hands out bytes below the window, even when a punch races its read.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { LogCap, PunchUnsupported, cutPoint, cutTarget, fallocatePunch } from '../../src/logs/log-cap.js';
import { LogFollower } from '../../src/logs/follower.js';
import { RETAINED_FILE, parseRetained, retainedWindows } from '../../src/logs/retained.js';
import type { LogStreamName, SessionStore } from '../../src/store/store.js';
import { logReaderOf } from '../../src/store/log-reader.js';

t.test('cutTarget: only past twice the cap, down to the cap', async (t) => {
  t.equal(cutTarget(200, 0, 100), null, 'exactly twice: kept');
  t.equal(cutTarget(201, 0, 100), 101);
  t.equal(cutTarget(500, 300, 100), null, 'measured from the window start');
  t.equal(cutTarget(501, 300, 100), 401);
  t.equal(cutTarget(10_000, 0, 0), null, 'cap 0: no cap');
  t.equal(cutTarget(50, 100, 10), null, 'a log shorter than its window (cut from outside): no cut');
});

t.test('cutPoint: after the first line end, else at a character start', async (t) => {
  t.equal(cutPoint(Buffer.from('abc\ndef')), 4);
  t.equal(cutPoint(Buffer.from('ab\r\ncd')), 4, '\\r\\n is one line end');
  t.equal(cutPoint(Buffer.from('ab\rcd')), 3, 'a lone \\r ends a line');
  t.equal(cutPoint(Buffer.from('ab\r')), 0, 'a \\r at the very end may be half of \\r\\n: no line end known, a character start');
  t.equal(cutPoint(Buffer.from([0x80, 0x80, 0x41])), 2, 'no line end: the first byte that is not a UTF-8 continuation');
  t.equal(cutPoint(Buffer.from('é').subarray(1)), 1, 'all continuation bytes: past them');
  t.equal(cutPoint(Buffer.alloc(0)), 0);
});

t.test('parseRetained: anything but two non-negative integers reads as nothing dropped', async (t) => {
  t.same(parseRetained('{"stdout":5,"stderr":7}'), { stdout: 5, stderr: 7 });
  t.same(parseRetained('{"stdout":-1,"stderr":1.5}'), { stdout: 0, stderr: 0 });
  t.same(parseRetained('not json'), { stdout: 0, stderr: 0 });
  t.same(parseRetained('null'), { stdout: 0, stderr: 0 });
});

/** A store over real files in a temp folder: just what the cap and the follower use. */
async function fileStore(t: Test, onRead?: () => Promise<void>) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sessiond-cap-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  const file = (stream: LogStreamName) => path.join(dir, `${stream}.log`);
  const store = {
    logLocation: () => ({ stdout: file('stdout'), stderr: file('stderr'), stateDir: dir }),
    logStat: async (_id: string, stream: LogStreamName) => {
      const s = await fs.stat(file(stream)).catch(() => null);
      return { size: s?.size ?? 0, mtime: s?.mtime ?? null };
    },
    readLog: async (_id: string, stream: LogStreamName, start: number, end: number) => {
      const data = await fs.readFile(file(stream));
      await onRead?.();
      return data.subarray(start, end);
    },
  } as unknown as SessionStore;
  store.openLogReader = (id, stream) => logReaderOf(store, id, stream);
  return { dir, store, file };
}

const lines = (n: number) => Array.from({ length: n }, (_, i) => `line ${String(i).padStart(4, '0')} ${'x'.repeat(89)}\n`).join('');

t.test('the cap records the window before it punches, at a line start', async (t) => {
  const { dir, store, file } = await fileStore(t);
  await fs.writeFile(file('stdout'), lines(300));
  const punches: Array<{ start: number; end: number; recorded: number }> = [];
  const cap = new LogCap({
    store,
    maxBytes: 4096,
    log: { warn: () => t.fail('no warning') },
    punch: async (_fd, start, end) => {
      punches.push({ start, end, recorded: parseRetained(await fs.readFile(path.join(dir, RETAINED_FILE), 'utf8')).stdout });
    },
  });
  await cap.enforce('s1', 'stdout', 30_000);
  t.same(punches, [{ start: 0, end: 26_000, recorded: 26_000 }], 'cut down to the cap, at the next line start; on disk before the punch');
  t.equal(await retainedWindows(store).from('s1', 'stdout'), 26_000);
  await cap.enforce('s1', 'stdout', 30_000);
  t.equal(punches.length, 1, 'under twice the cap again: nothing more');
  await fs.appendFile(file('stdout'), lines(50));
  await cap.enforce('s1', 'stdout', 35_000);
  t.same(punches.at(-1), { start: 26_000, end: 31_000, recorded: 31_000 }, 'the next cut starts where the last ended');
});

t.test('a filesystem without punch-hole: warned once, the window goes back, nothing more is tried', async (t) => {
  const { store, file } = await fileStore(t);
  await fs.writeFile(file('stdout'), lines(300));
  const warnings: string[] = [];
  let calls = 0;
  const cap = new LogCap({
    store,
    maxBytes: 4096,
    log: { warn: (_o, msg) => void warnings.push(msg) },
    punch: async () => {
      calls++;
      throw new PunchUnsupported('fallocate: Operation not supported');
    },
  });
  await cap.enforce('s1', 'stdout', 30_000);
  await cap.enforce('s1', 'stdout', 30_000);
  t.equal(calls, 1);
  t.equal(warnings.length, 1);
  t.equal(await retainedWindows(store).from('s1', 'stdout'), 0, 'nothing counts as dropped');
});

t.test('fallocate punches the blocks out and keeps the size', { skip: hasFallocate() ? false : 'no fallocate' }, async (t) => {
  const { store, file } = await fileStore(t);
  const data = Buffer.from(lines(3000));
  await fs.writeFile(file('stdout'), data);
  const cap = new LogCap({ store, maxBytes: 64 * 1024, log: { warn: (o) => t.fail(JSON.stringify(o)) }, punch: fallocatePunch });
  await cap.enforce('s1', 'stdout', data.length);
  const s = await fs.stat(file('stdout'));
  const from = await retainedWindows(store).from('s1', 'stdout');
  t.equal(s.size, data.length, 'same size');
  t.ok(s.blocks * 512 <= 64 * 1024 + 8192, `blocks: ${s.blocks * 512} bytes`);
  const after = await fs.readFile(file('stdout'));
  t.ok(after.subarray(from).equals(data.subarray(from)), 'the window is untouched');
  t.ok(after.subarray(0, from - 4096).every((b) => b === 0), 'below it: a hole (zeros)');
});

t.test('a follower never hands out bytes below the window', async (t) => {
  let punchDuringRead: (() => Promise<void>) | null = null;
  const { store, file } = await fileStore(t, async () => {
    const punch = punchDuringRead;
    punchDuringRead = null;
    await punch?.();
  });
  await fs.writeFile(file('stdout'), lines(100));
  const windows = retainedWindows(store);
  const follower = new LogFollower(store, 's1', 'stdout', 0);
  const first = await follower.read(1000);
  t.equal(first.kind, 'data');
  // The window moves while the next read is under way: what it read may be zeros.
  punchDuringRead = () => windows.set('s1', 'stdout', 5000);
  const raced = await follower.read(1000);
  t.same(raced, { kind: 'dropped', from: 5000, size: 10_000 }, 'the raced read is thrown away');
  t.equal(follower.offset, 5000);
  const next = await follower.read(100);
  t.equal(next.kind === 'data' && next.chunk.toString(), lines(100).slice(5000, 5100), 'then the bytes at the window');
  const behind = new LogFollower(store, 's1', 'stdout', 10);
  t.same(await behind.read(100), { kind: 'dropped', from: 5000, size: 10_000 }, 'a position below the window: dropped, never read');
  const aligned = new LogFollower(store, 's1', 'stdout', 20);
  await aligned.alignToLineStart(10_000);
  t.equal(aligned.offset, 5000, 'a tail reaching below the window starts at it');
});

function hasFallocate(): boolean {
  try {
    execFileSync('fallocate', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
