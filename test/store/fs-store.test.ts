// What only the file store promises: its layout on disk, crash debris, damaged records, atomic writes.
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { writeFileAtomic } from '../../src/store/atomic-write.js';
import { StoreError } from '../../src/store/errors.js';
import { createFsStore, type FsStore, type StoreLogger } from '../../src/store/fs-store.js';
import { DEMO_ID, makeMetadata, makeRecord } from '../fakes/records.js';
import { eventually } from '../helper.js';

const SESSION_FILES = ['metadata.json', 'session.json', 'stderr.log', 'stdout.log'];

interface Logged {
  obj: Record<string, unknown>;
  msg: string;
}

/** A logger that keeps warnings, so tests can check that a skipped record is reported. */
function recordingLog(): StoreLogger & { warnings: Logged[] } {
  const warnings: Logged[] = [];
  return {
    warnings,
    warn: (obj, msg) => void warnings.push({ obj: obj as Record<string, unknown>, msg }),
    info: () => undefined,
    error: () => undefined,
  };
}

async function tempRoot(t: Test): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'sessiond-fs-store-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  return root;
}

async function openStore(dataDir: string, log: StoreLogger = recordingLog()): Promise<FsStore> {
  const store = createFsStore({ dataDir, log });
  await store.init();
  return store;
}

const byId = <T extends { id: string }>(records: T[]) => [...records].sort((a, b) => a.id.localeCompare(b.id));

t.test('a second store on the same folder loads the index at init', async (t) => {
  const dataDir = join(await tempRoot(t), 'data');
  const first = await openStore(dataDir);
  const ids = [DEMO_ID, 'other-abc124-xyz', 'third-abc125-xyz'];
  for (const id of ids) await first.create(makeRecord({ id }), makeMetadata({ id }));
  await first.put(makeRecord({ status: 'stopped', stopped_at: '2025-01-02T06:00:00.000Z' }));

  const second = await openStore(dataDir);
  t.same(byId(await second.list()), byId(await first.list()), 'same records');
  t.same(Array.from(second.ordered(), (r) => r.id), Array.from(first.ordered(), (r) => r.id), 'in the same listing order');
  t.equal((await second.get(DEMO_ID))?.status, 'stopped', 'the put is on disk');
  t.same(await second.getMetadata('other-abc124-xyz'), makeMetadata({ id: 'other-abc124-xyz' }));
  t.equal(second.damagedCount(), 0);
});

t.test('damaged session.json files are skipped with a warning and counted', async (t) => {
  const dataDir = join(await tempRoot(t), 'data');
  const first = await openStore(dataDir);
  const good = DEMO_ID;
  const truncated = 'truncated-abc124-xyz';
  const wrongShape = 'shape-abc125-xyz';
  const wrongId = 'wrongid-abc126-xyz';
  const badStatus = 'status-abc127-xyz';
  for (const id of [good, truncated, wrongShape, wrongId, badStatus]) await first.create(makeRecord({ id }), makeMetadata({ id }));
  const recordFile = (id: string) => join(dataDir, 'sessions', id, 'session.json');
  const text = await readFile(recordFile(truncated), 'utf8');
  await writeFile(recordFile(truncated), text.slice(0, text.length / 2));
  await writeFile(recordFile(wrongShape), JSON.stringify({ id: wrongShape, status: 'bogus' }));
  await writeFile(recordFile(wrongId), JSON.stringify(makeRecord({ id: good })));
  // Complete but for one value: the status enum is checked too.
  await writeFile(recordFile(badStatus), JSON.stringify({ ...makeRecord({ id: badStatus }), status: 'bogus' }));

  const log = recordingLog();
  const second = await openStore(dataDir, log);
  t.same(await second.list(), [makeRecord({ id: good })], 'only the good session lists');
  t.same(Array.from(second.ordered()), [makeRecord({ id: good })], 'and only it is in the listing order');
  t.equal(second.damagedCount(), 4, 'the damaged ones are counted');
  t.same(log.warnings.map((w) => w.obj.id).sort(), [truncated, wrongShape, wrongId, badStatus].sort(), 'one warning per damaged session, with its id');
  t.ok(log.warnings.every((w) => w.obj.err instanceof Error), 'each warning says why');
  t.equal(await second.get(truncated), undefined, 'a damaged session is not found');

  await second.put(makeRecord({ id: truncated, status: 'failed' }));
  t.equal(second.damagedCount(), 3, 'a good put heals a damaged record');
  t.equal((await second.get(truncated))?.status, 'failed');
  try {
    await second.create(makeRecord({ id: wrongShape }), makeMetadata({ id: wrongShape }));
    t.fail('create over a damaged session must not succeed');
  } catch (err) {
    t.ok(err instanceof StoreError && err.code === 'exists', 'a damaged session still holds its id');
  }
});

t.test('leftover temporary folders are removed at init and never listed', async (t) => {
  const dataDir = join(await tempRoot(t), 'data');
  const sessions = join(dataDir, 'sessions');
  const debris = join(sessions, `.tmp-${DEMO_ID}-0123456789ab`);
  await mkdir(debris, { recursive: true });
  // A complete-looking record inside: what a crash just before the rename would leave.
  await writeFile(join(debris, 'session.json'), JSON.stringify(makeRecord()));
  await writeFile(join(debris, 'stdout.log'), 'half');

  const store = await openStore(dataDir);
  t.same(await readdir(sessions), [], 'the debris is gone');
  t.same(await store.list(), [], 'and was never loaded');
  t.equal(store.damagedCount(), 0);
});

t.test('unfinished record writes of a crashed service are removed after init, and never block a write', async (t) => {
  const dataDir = join(await tempRoot(t), 'data');
  const first = await openStore(dataDir);
  await first.create(makeRecord(), makeMetadata());
  const folder = join(dataDir, 'sessions', DEMO_ID);
  // writeFileAtomic's temporary name, as a kill -9 between write and rename leaves it.
  const leftover = join(folder, '.session.json.999999.0123456789ab.tmp');
  await writeFile(leftover, '{"half":');

  const second = await openStore(dataDir);
  t.equal((await second.get(DEMO_ID))?.id, DEMO_ID, 'the record loads at init');
  await second.put(makeRecord({ status: 'exited', exit_code: 0 }));
  await second.close();
  t.same((await readdir(folder)).sort(), SESSION_FILES, 'close waited for the sweep: the leftover is gone');
  t.equal((await openStore(dataDir).then((s) => s.get(DEMO_ID)))?.status, 'exited', 'and the put beside it stands');
});

t.test('a session folder holds exactly its four files, even after many puts', async (t) => {
  const root = await tempRoot(t);
  const dataDir = join(root, 'data');
  const store = await openStore(dataDir);
  await store.create(makeRecord(), makeMetadata());
  const folder = join(dataDir, 'sessions', DEMO_ID);
  t.same((await readdir(folder)).sort(), SESSION_FILES, 'after create');

  for (let i = 0; i < 25; i++) await store.put(makeRecord({ pid: i }));
  await Promise.all(Array.from({ length: 25 }, (_, i) => store.put(makeRecord({ pid: 100 + i }))));
  await store.probe();
  t.same((await readdir(folder)).sort(), SESSION_FILES, 'after 50 puts: no temporary file left');
  t.same(await readdir(join(dataDir, 'sessions')), [DEMO_ID], 'no temporary folder left');
  t.same(await readdir(dataDir), ['sessions'], 'no probe file left');

  const onDisk: unknown = JSON.parse(await readFile(join(folder, 'session.json'), 'utf8'));
  t.same(onDisk, await store.get(DEMO_ID), 'the index matches the disk');
  t.equal((await store.get(DEMO_ID))?.pid, 124, 'the last put won');
  for (const name of SESSION_FILES) {
    t.equal((await stat(join(folder, name))).mode & 0o077, 0, `${name} is private to the service user`);
  }
  t.equal((await stat(join(dataDir, 'sessions'))).mode & 0o777, 0o700, 'the sessions folder is 0700');
});

t.test('failed create and delete leave no temporary folder behind', async (t) => {
  const dataDir = join(await tempRoot(t), 'data');
  const store = await openStore(dataDir);
  await store.create(makeRecord(), makeMetadata());
  await t.rejects(store.create(makeRecord(), makeMetadata()), { code: 'exists' });
  t.same(await readdir(join(dataDir, 'sessions')), [DEMO_ID], 'after a failed create');
  await store.delete(DEMO_ID);
  t.same(await readdir(join(dataDir, 'sessions')), [], 'after delete');
});

t.test('put does not recreate a folder removed behind its back', async (t) => {
  const dataDir = join(await tempRoot(t), 'data');
  const store = await openStore(dataDir);
  await store.create(makeRecord(), makeMetadata());
  await rm(join(dataDir, 'sessions', DEMO_ID), { recursive: true });
  await t.rejects(store.put(makeRecord({ status: 'exited' })), { name: 'StoreError', code: 'not_found' });
  t.same(await readdir(join(dataDir, 'sessions')), [], 'the folder stays gone');
  t.same(await store.list(), [], 'and the index forgets it');
});

t.test('filesystem faults become StoreError io with the cause kept', async (t) => {
  const dataDir = join(await tempRoot(t), 'data');
  const store = await openStore(dataDir);
  await store.create(makeRecord(), makeMetadata());
  // A folder where session.json should be: the rename fails with EISDIR, a fault that is not "gone".
  const recordFile = join(dataDir, 'sessions', DEMO_ID, 'session.json');
  await rm(recordFile);
  await mkdir(join(recordFile, 'in-the-way'), { recursive: true });
  try {
    await store.put(makeRecord({ status: 'exited' }));
    t.fail('put must fail');
  } catch (err) {
    t.ok(err instanceof StoreError, 'a StoreError');
    t.equal((err as StoreError).code, 'io');
    t.match((err as StoreError).cause, { code: /^E[A-Z]+$/ }, 'the fs error is the cause');
  }
  t.equal((await store.get(DEMO_ID))?.status, 'running', 'the index keeps the last good record');
  t.same((await readdir(join(dataDir, 'sessions', DEMO_ID))).sort(), SESSION_FILES, 'no temporary file left');
});

t.test('probe fails with StoreError io when the data folder is gone', async (t) => {
  const dataDir = join(await tempRoot(t), 'data');
  const store = await openStore(dataDir);
  await rm(dataDir, { recursive: true });
  await t.rejects(store.probe(), { name: 'StoreError', code: 'io' });
});

t.test('writeFileAtomic', async (t) => {
  t.test('writes the content, private by default, and nothing else', async (t) => {
    const root = await tempRoot(t);
    const file = join(root, 'x.json');
    await writeFileAtomic(file, 'one');
    await writeFileAtomic(file, Buffer.from('two'));
    t.equal(await readFile(file, 'utf8'), 'two');
    t.equal((await stat(file)).mode & 0o077, 0);
    t.same(await readdir(root), ['x.json']);
  });

  t.test('throws and creates nothing when the target folder is missing', async (t) => {
    const root = await tempRoot(t);
    await t.rejects(writeFileAtomic(join(root, 'missing', 'x.json'), 'data'), { code: 'ENOENT' });
    t.same(await readdir(root), [], 'neither the folder nor a temporary file');
  });

  t.test('removes its temporary file when the rename fails', async (t) => {
    const root = await tempRoot(t);
    const target = join(root, 'target');
    await mkdir(join(target, 'child'), { recursive: true });
    await t.rejects(writeFileAtomic(target, 'data'));
    t.same(await readdir(root), ['target'], 'no temporary file beside the target');
    t.same(await readdir(target), ['child'], 'the target is untouched');
  });
});

t.test('log readers share one descriptor per log, and check its path on every size()', async (t) => {
  const store = await openStore(await tempRoot(t));
  await store.create(makeRecord(), makeMetadata());
  const log = store.logLocation(DEMO_ID).stdout;
  await writeFile(log, 'first\n');
  const fds = async () => (await readdir('/proc/self/fd')).length;
  const before = await fds();
  const readers = Array.from({ length: 50 }, () => store.openLogReader(DEMO_ID, 'stdout'));
  for (const reader of readers) t.equal((await reader.read(0, 100)).toString(), 'first\n');
  t.ok((await fds()) - before <= 1, `50 readers of one log hold one descriptor (${(await fds()) - before} more)`);
  for (const reader of readers.slice(1)) reader.close();
  const [reader] = readers as [ReturnType<typeof store.openLogReader>];

  // Replaced by another regular file (rm and write): the reader goes on with the new file.
  await rm(log);
  await writeFile(log, 'second file\n');
  t.equal(await reader.size(), 12, 'the new file is measured');
  t.equal((await reader.read(0, 100)).toString(), 'second file\n', 'and read, not the deleted one');

  // Replaced by a link: size() refuses it, and the held descriptor is never the link's target.
  const outside = join(await tempRoot(t), 'secret');
  await writeFile(outside, 'outside secret\n');
  await rm(log);
  await symlink(outside, log);
  try {
    await reader.size();
    t.fail('a log replaced by a link is measured');
  } catch (err) {
    t.ok(err instanceof StoreError && err.code === 'corrupt', 'size() throws StoreError corrupt');
  }
  const after = await reader.read(0, 100);
  t.notOk(after.toString().includes('outside'), 'a read never returns the link target');
  reader.close();
  // Closing is asynchronous (a read under way finishes first).
  t.ok(await eventually(async () => ((await fds()) === before ? true : undefined), 5000), 'every descriptor is let go once the readers are closed');
});

t.test('a walk through the store (a completion of more than 100 records) reads args back without keeping them', async (t) => {
  const dataDir = join(await tempRoot(t), 'data');
  const store = await openStore(dataDir);
  // 130 ended sessions with 20,000 characters of args each: 2.6 Mi characters, past the bound of
  // what is kept, so a walk that kept what it read would push the first page out.
  const prompt = 'p'.repeat(20_000);
  for (let i = 0; i < 130; i++) {
    const id = `walk${String(i).padStart(3, '0')}-abc123-xyz`;
    await store.create(makeRecord({ id, status: 'exited', exit_code: 0, pid: null, handle: null, args: ['--print', prompt, id] }), makeMetadata({ id }));
  }
  const reopened = await openStore(dataDir);
  const listed = Array.from(reopened.ordered());
  t.equal(listed.length, 130);
  const firstPage = await reopened.complete(listed.slice(0, 20));
  t.same(firstPage.map((r) => r.args[2]), listed.slice(0, 20).map((r) => r.id), 'the first page, with its args');

  // Automation paging through the rest, 110 at a time.
  const walk = await reopened.complete(listed.slice(20));
  t.same(walk.map((r) => r.args[2]), listed.slice(20).map((r) => r.id), 'the walk is complete, each record with its args');
  const again = await reopened.complete(listed.slice(0, 20));
  t.ok(again.every((r, i) => r === firstPage[i]), 'the first page is still kept: the same objects, not read again');
  const walkAgain = await reopened.complete(listed.slice(20));
  t.ok(walkAgain.every((r, i) => r !== walk[i]), 'what the walk read was not kept');
});

t.test('a put readable at once is on disk once it resolves, and in the index before', async (t) => {
  const dataDir = join(await tempRoot(t), 'data');
  const store = await openStore(dataDir);
  await store.create(makeRecord({ status: 'starting', pid: null, handle: null }), makeMetadata());
  const written = store.put(makeRecord({ status: 'running', pid: 77, handle: { pid: 77 } }), { durable: false, readableAtOnce: true });
  const onDiskMeanwhile = JSON.parse(await readFile(join(dataDir, 'sessions', DEMO_ID, 'session.json'), 'utf8')) as { status: string };
  t.equal((await store.get(DEMO_ID))?.status, 'running', 'the index has it');
  t.match(onDiskMeanwhile.status, /^(starting|running)$/, 'the file holds a whole record meanwhile, old or new');
  await written;
  const reopened = await openStore(dataDir);
  t.equal((await reopened.get(DEMO_ID))?.status, 'running', 'written');
});
