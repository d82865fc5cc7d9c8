// One contract, two stores: the file store and the memory store must look the same to their callers.
import { createHash } from 'node:crypto';
import { appendFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import t, { type Test } from 'tap';
import { pino } from 'pino';
import { StoreError, type StoreErrorCode } from '../../src/store/errors.js';
import { createFsStore } from '../../src/store/fs-store.js';
import { listKey } from '../../src/store/list-index.js';
import type { LogStreamName, SessionStore } from '../../src/store/store.js';
import { createMemoryStore, MemoryStore } from '../fakes/memory-store.js';
import { DEMO_ID, makeMetadata, makeRecord } from '../fakes/records.js';

export interface StoreUnderTest {
  store: SessionStore;
  /** Everything the store keeps, as comparable data, to prove a call changed nothing. */
  snapshot(): Promise<unknown>;
}

const OTHER_ID = 'other-abc124-xyz';

/** Writes output the way a process would: to the log file, or through the memory store's helper. */
async function append(store: SessionStore, id: string, stream: LogStreamName, data: string | Buffer): Promise<void> {
  if (store instanceof MemoryStore) store.appendLog(id, stream, data);
  else await appendFile(store.logLocation(id)[stream], data);
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks);
}

async function rejectsWith(t: Test, promise: Promise<unknown>, code: StoreErrorCode, what: string): Promise<void> {
  try {
    await promise;
    t.fail(`${what}: resolved, expected StoreError ${code}`);
  } catch (err) {
    t.ok(err instanceof StoreError, `${what}: throws a StoreError`);
    t.equal((err as StoreError).code, code, `${what}: code ${code}`);
  }
}

function throwsWith(t: Test, fn: () => unknown, code: StoreErrorCode, what: string): void {
  try {
    fn();
    t.fail(`${what}: returned, expected StoreError ${code}`);
  } catch (err) {
    t.ok(err instanceof StoreError && err.code === code, `${what}: throws StoreError ${code}`);
  }
}

const byId = (records: { id: string }[]) => [...records].sort((a, b) => a.id.localeCompare(b.id));

export function runStoreContract(t: Test, name: string, makeStore: (t: Test) => Promise<StoreUnderTest>): void {
  t.test(name, async (t) => {
    t.test('a new store is empty', async (t) => {
      const { store } = await makeStore(t);
      t.same(await store.list(), []);
      t.equal(await store.get(DEMO_ID), undefined);
      t.equal(await store.getMetadata(DEMO_ID), undefined);
    });

    t.test('create, get, list, put and delete round trip', async (t) => {
      const { store } = await makeStore(t);
      const first = makeRecord();
      const second = makeRecord({ id: OTHER_ID, name: 'other', mission_id: 'm-1', allowed_tools: ['Read', 'Grep'] });
      await store.create(first, makeMetadata());
      t.same(await store.get(DEMO_ID), first, 'get returns what was created');
      t.same(await store.list(), [first], 'list holds it');
      t.same(await store.getMetadata(DEMO_ID), makeMetadata(), 'metadata is readable');

      await store.create(second, makeMetadata({ id: OTHER_ID, name: 'other' }));
      t.same(byId(await store.list()), byId([first, second]), 'list holds both');

      const ended = makeRecord({ status: 'exited', exit_code: 0, stopped_at: '2025-01-02T04:00:00.000Z', pid: null, handle: null });
      await store.put(ended);
      t.same(await store.get(DEMO_ID), ended, 'get sees the put');
      const { args: _args, ...endedListed } = ended;
      t.same(byId(await store.list()), byId([endedListed, second]), 'list sees the put (an ended session without its args)');
      t.same(byId(await store.complete(await store.list())), byId([ended, second]), 'complete gives the whole records');

      await store.delete(DEMO_ID);
      t.equal(await store.get(DEMO_ID), undefined, 'get after delete');
      t.equal(await store.getMetadata(DEMO_ID), undefined, 'metadata goes with it');
      t.same(await store.list(), [second], 'the other session stays');
      t.same(await store.logStat(DEMO_ID, 'stdout'), { size: 0, mtime: null }, 'logs go with it');
      await store.delete(DEMO_ID);
      t.pass('deleting a missing session is not an error');
    });

    t.test('ordered() lists newest started_at first and follows every create, put and delete', async (t) => {
      const { store } = await makeStore(t);
      const ids = (records: Iterable<{ id: string }>) => Array.from(records, (r) => r.id);
      const at = (minute: number) => `2025-01-02T03:${String(minute).padStart(2, '0')}:00.000Z`;
      const a = makeRecord({ id: 'a-abc123-xyz', started_at: at(1) });
      const b = makeRecord({ id: 'b-abc123-xyz', started_at: at(2) });
      const c = makeRecord({ id: 'c-abc123-xyz', started_at: at(2) });
      for (const record of [b, a, c]) await store.create(record, makeMetadata({ id: record.id }));
      t.same(ids(store.ordered()), [c.id, b.id, a.id], 'newest first, the greater id first on a tie');
      t.same(ids(store.ordered(b)), [a.id], 'after a position: only what comes after it');
      t.same(ids(store.ordered({ started_at: at(9), id: 'z' })), [c.id, b.id, a.id], 'a position nothing holds still works');
      await store.put({ ...a, started_at: at(3) });
      t.same(ids(store.ordered()), [a.id, c.id, b.id], 'a put that changes started_at moves the record');
      await store.put({ ...b, name: 'renamed' });
      t.equal(Array.from(store.ordered()).find((r) => r.id === b.id)?.name, 'renamed', 'a put in place hands out the new record');
      await store.delete(c.id);
      t.same(ids(store.ordered()), [a.id, b.id], 'a delete leaves the order');
      t.same(byId(Array.from(store.ordered())), byId(await store.list()), 'the same records as list()');
      await store.put({ ...b, status: 'exited', mission_id: 'm-9', labels: { team: 'web' } });
      t.same(ids(store.ordered(undefined, listKey('mission_id', 'm-9'))), [b.id], 'a filter value has an order of its own');
      t.same(ids(store.ordered(undefined, listKey('label', 'team=web'))), [b.id], 'labels too, as key=value');
      t.same(ids(store.ordered(undefined, listKey('status', 'running'))), [a.id], 'and statuses');
      t.same([store.orderedCount(), store.orderedCount(listKey('status', 'exited')), store.orderedCount(listKey('mission_id', 'none'))], [2, 1, 0], 'counted in O(1)');
    });

    t.test('an ended session is listed without its args; get and complete read them back, in order, leaving out the deleted', async (t) => {
      const { store } = await makeStore(t);
      const at = (minute: number) => `2025-01-02T03:${String(minute).padStart(2, '0')}:00.000Z`;
      const live = makeRecord({ id: 'a-abc123-xyz', started_at: at(1), args: ['live', 'prompt'] });
      const ended = makeRecord({ id: 'b-abc123-xyz', started_at: at(2), status: 'exited', exit_code: 0, pid: null, handle: null, args: ['ended', 'prompt é'] });
      const gone = makeRecord({ id: 'c-abc123-xyz', started_at: at(3), status: 'failed', pid: null, handle: null, args: ['gone'] });
      for (const record of [live, ended, gone]) await store.create(record, makeMetadata({ id: record.id }));
      const listed = Array.from(store.ordered());
      t.same(listed.map((r) => 'args' in r), [false, false, true], 'ended ones without args; the live one whole');
      await store.delete(gone.id);
      const whole = await store.complete(listed);
      t.same(whole, [ended, live], 'whole records in the order given; a session deleted since is left out');
      t.throws(() => (whole[0] as { args: string[] }).args.push('x'), TypeError, 'frozen, args too');
      t.same(await store.get(ended.id), ended, 'get reads the args back');
      t.equal(await store.get(ended.id), await store.get(ended.id), 'the same object on a second read (the view cache keys on it)');
      const again = await store.complete([{ ...listed[1]!, name: 'renamed' } as typeof listed[number]]);
      t.same(again.map((r) => [r.name, r.args]), [['renamed', ended.args]], 'a listed record is completed as given, with its args');
    });

    t.test('the store keeps copies and hands out frozen records nobody can change', async (t) => {
      const { store } = await makeStore(t);
      const record = makeRecord();
      const metadata = makeMetadata();
      await store.create(record, metadata);
      record.name = 'changed after create';
      record.args.push('--changed');
      metadata.name = 'changed after create';
      t.same(await store.get(DEMO_ID), makeRecord(), 'create kept a copy of the record');
      t.same(await store.getMetadata(DEMO_ID), makeMetadata(), 'create kept a copy of the metadata');

      const got = await store.get(DEMO_ID);
      if (got === undefined) throw new Error('record missing');
      t.throws(() => {
        got.status = 'failed';
      }, TypeError);
      t.throws(() => got.args.push('--mutated'), TypeError);
      const listed = (await store.list())[0];
      if (listed === undefined) throw new Error('list empty');
      t.throws(() => {
        listed.name = 'mutated via list';
      }, TypeError);
      const put = { ...got, status: 'exited' as const };
      t.doesNotThrow(() => {
        put.exit_code = 0;
      }, 'a spread copy is the way to a new record');
      const meta = await store.getMetadata(DEMO_ID);
      if (meta === undefined) throw new Error('metadata missing');
      meta.args.push('--mutated');
      t.same(await store.get(DEMO_ID), makeRecord(), 'mutating what get or list returned changes nothing');
      t.same(await store.getMetadata(DEMO_ID), makeMetadata(), 'mutating returned metadata changes nothing');

      const update = makeRecord({ status: 'stopped' });
      await store.put(update);
      update.status = 'failed';
      t.equal((await store.get(DEMO_ID))?.status, 'stopped', 'put kept a copy');
    });

    t.test('create of a taken id throws exists and keeps the first session', async (t) => {
      const { store } = await makeStore(t);
      await store.create(makeRecord(), makeMetadata());
      await append(store, DEMO_ID, 'stdout', 'keep me');
      await rejectsWith(
        t,
        store.create(makeRecord({ name: 'intruder', status: 'starting' }), makeMetadata({ name: 'intruder' })),
        'exists',
        'second create',
      );
      t.same(await store.get(DEMO_ID), makeRecord(), 'the first record is intact');
      t.same(await store.getMetadata(DEMO_ID), makeMetadata(), 'the first metadata is intact');
      t.equal((await store.readLog(DEMO_ID, 'stdout', 0, 100)).toString(), 'keep me', 'the first logs are intact');
      t.equal((await store.list()).length, 1);
    });

    t.test('put of a deleted or unknown session throws not_found and does not resurrect it', async (t) => {
      const { store, snapshot } = await makeStore(t);
      await rejectsWith(t, store.put(makeRecord()), 'not_found', 'put of a never-created session');
      await store.create(makeRecord(), makeMetadata());
      await store.delete(DEMO_ID);
      const before = await snapshot();
      await rejectsWith(t, store.put(makeRecord({ status: 'exited' })), 'not_found', 'put after delete');
      t.equal(await store.get(DEMO_ID), undefined, 'get still finds nothing');
      t.same(await store.list(), [], 'list still empty');
      t.equal(await store.getMetadata(DEMO_ID), undefined);
      t.same(await store.logStat(DEMO_ID, 'stdout'), { size: 0, mtime: null }, 'no log reappears');
      t.same(await snapshot(), before, 'nothing was written');
    });

    t.test('a put readable at once is answered by get and the listing from the call on; a deleted session stays deleted', async (t) => {
      const { store, snapshot } = await makeStore(t);
      await store.create(makeRecord({ status: 'starting', pid: null, handle: null }), makeMetadata());
      const running = makeRecord({ status: 'running', pid: 4242, handle: { pid: 4242 } });
      const written = store.put(running, { durable: false, readableAtOnce: true });
      // Asked before anything is awaited: the write cannot have been done yet.
      const got = store.get(DEMO_ID);
      const listed = Array.from(store.ordered(), (r) => r.status);
      t.equal((await got)?.status, 'running', 'get answers the new record at once');
      t.same(listed, ['running'], 'so does the listing');
      await written;
      t.equal((await store.get(DEMO_ID))?.pid, 4242, 'and still once written');
      await store.put(makeRecord({ status: 'exited', exit_code: 0 }));
      t.equal((await store.get(DEMO_ID))?.status, 'exited', 'a later put wins');

      await store.delete(DEMO_ID);
      const before = await snapshot();
      await rejectsWith(t, store.put(running, { readableAtOnce: true }), 'not_found', 'readable at once after delete');
      t.equal(await store.get(DEMO_ID), undefined, 'not brought back');
      t.same(await store.list(), [], 'list still empty');
      t.same(await snapshot(), before, 'nothing was written');
    });

    t.test('metadata is written once and survives every put', async (t) => {
      const { store } = await makeStore(t);
      await store.create(makeRecord(), makeMetadata());
      await store.put(makeRecord({ name: 'renamed', branch: 'feature', status: 'stopped' }));
      await store.put(makeRecord({ status: 'terminated', stop_requested_at: '2025-01-02T05:00:00.000Z' }));
      t.same(await store.getMetadata(DEMO_ID), makeMetadata());
    });

    t.test('the last of many concurrent puts wins', async (t) => {
      const { store } = await makeStore(t);
      await store.create(makeRecord(), makeMetadata());
      await Promise.all(Array.from({ length: 20 }, (_, i) => store.put(makeRecord({ pid: i, handle: { pid: i } }))));
      t.equal((await store.get(DEMO_ID))?.pid, 19);
      t.equal((await store.list())[0]?.pid, 19);
    });

    t.test('invalid ids are not found and touch nothing', async (t) => {
      const { store, snapshot } = await makeStore(t);
      await store.create(makeRecord(), makeMetadata());
      await append(store, DEMO_ID, 'stdout', 'secret output');
      const before = await snapshot();
      // The last one would resolve to the real session's folder if it were ever joined into a path.
      const invalid = ['../x', '..%2F..', 'a/b', 'x\u0000y', 'ABC', '', `../sessions/${DEMO_ID}`, `${DEMO_ID}/`, 'a'.repeat(129)];
      for (const id of invalid) {
        const label = JSON.stringify(id.length > 20 ? `${id.slice(0, 20)}…` : id);
        t.equal(await store.get(id), undefined, `get ${label}`);
        t.equal(await store.getMetadata(id), undefined, `getMetadata ${label}`);
        await rejectsWith(t, store.put(makeRecord({ id })), 'not_found', `put ${label}`);
        await store.delete(id);
        t.same(await store.logStat(id, 'stdout'), { size: 0, mtime: null }, `logStat ${label}`);
        t.equal((await store.readLog(id, 'stdout', 0, 100)).length, 0, `readLog ${label}`);
        t.equal((await readAll(await store.openLogStream(id, 'stdout', 0, 100))).length, 0, `openLogStream ${label}`);
        throwsWith(t, () => store.logLocation(id), 'not_found', `logLocation ${label}`);
        await rejectsWith(t, store.create(makeRecord({ id }), makeMetadata({ id })), 'corrupt', `create ${label}`);
      }
      t.same(await snapshot(), before, 'the store is exactly as before');
      t.same(await store.get(DEMO_ID), makeRecord(), 'the real session is untouched');
    });

    t.test('logs: stat, ranged reads and streams return exactly the right bytes', async (t) => {
      const { store } = await makeStore(t);
      await store.create(makeRecord(), makeMetadata());
      const fresh = await store.logStat(DEMO_ID, 'stdout');
      t.equal(fresh.size, 0, 'a new log is empty');
      t.ok(fresh.mtime instanceof Date, 'and exists');

      await append(store, DEMO_ID, 'stdout', 'hello ');
      await append(store, DEMO_ID, 'stdout', 'world\n');
      const binary = Buffer.from([0xff, 0x00, 0xfe, 0x0a]);
      await append(store, DEMO_ID, 'stderr', binary);

      const stdout = await store.logStat(DEMO_ID, 'stdout');
      t.equal(stdout.size, 12, 'stdout size');
      t.ok(stdout.mtime instanceof Date, 'stdout mtime');
      t.equal((await store.logStat(DEMO_ID, 'stderr')).size, 4, 'stderr size is its own');

      const cases: [start: number, end: number, expected: string][] = [
        [0, 12, 'hello world\n'],
        [0, 1000, 'hello world\n'],
        [0, Number.POSITIVE_INFINITY, 'hello world\n'],
        [6, 11, 'world'],
        [11, 20, '\n'],
        [12, 20, ''],
        [100, 200, ''],
        [5, 5, ''],
        [7, 3, ''],
      ];
      for (const [start, end, expected] of cases) {
        const want = Buffer.from(expected).toString('hex');
        const read = await store.readLog(DEMO_ID, 'stdout', start, end);
        t.equal(read.toString('hex'), want, `readLog [${start}, ${end})`);
        const streamed = await readAll(await store.openLogStream(DEMO_ID, 'stdout', start, end));
        t.equal(streamed.toString('hex'), want, `openLogStream [${start}, ${end})`);
      }
      t.equal((await store.readLog(DEMO_ID, 'stderr', 0, 4)).toString('hex'), binary.toString('hex'), 'binary bytes round trip');
      t.equal((await readAll(await store.openLogStream(DEMO_ID, 'stderr', 1, 3))).toString('hex'), '00fe', 'binary stream range');

      await store.delete(DEMO_ID);
      t.same(await store.logStat(DEMO_ID, 'stdout'), { size: 0, mtime: null }, 'a deleted log has no stat');
      t.equal((await store.readLog(DEMO_ID, 'stdout', 0, 12)).length, 0, 'a deleted log reads empty');
      t.equal((await readAll(await store.openLogStream(DEMO_ID, 'stdout', 0, 12))).length, 0, 'a deleted log streams empty');
    });

    t.test('a log reader reads what readLog reads, follows growth, and sees a deleted log as empty', async (t) => {
      const { store } = await makeStore(t);
      await store.create(makeRecord(), makeMetadata());
      const reader = store.openLogReader(DEMO_ID, 'stdout');
      const other = store.openLogReader(DEMO_ID, 'stdout');
      t.equal(await reader.size(), 0, 'a new log is empty');
      await append(store, DEMO_ID, 'stdout', 'hello ');
      t.equal((await reader.read(0, 100)).toString(), 'hello ', 'what is there, not 100 bytes');
      await append(store, DEMO_ID, 'stdout', 'world\n');
      t.equal(await reader.size(), 12, 'the size follows appends');
      t.equal((await reader.read(6, 11)).toString(), 'world', 'a range');
      t.equal((await reader.read(12, 20)).length, 0, 'nothing past the end');
      t.equal((await reader.read(7, 3)).length, 0, 'an empty range');
      const into = Buffer.alloc(64, 0x2a);
      const viewed = await reader.read(0, 5, into);
      t.equal(viewed.toString(), 'hello', 'into a buffer');
      t.equal(viewed.buffer, into.buffer, 'as a view of it');
      t.equal((await other.read(0, 12)).toString(), 'hello world\n', 'two readers of one log each read it whole');
      // A fresh read (a follower woken by new bytes) answers exactly what a plain one does.
      t.equal((await reader.read(6, 100, undefined, true)).toString(), 'world\n', 'fresh: what is there');
      t.equal((await reader.read(12, 100, undefined, true)).length, 0, 'fresh: nothing past the end');
      const freshInto = await reader.read(0, 5, into, true);
      t.equal(freshInto.toString(), 'hello', 'fresh: into a buffer');
      t.equal(freshInto.buffer, into.buffer, 'fresh: as a view of it');
      const first = await reader.read(0, 6, undefined, true);
      await reader.read(6, 12, undefined, true);
      t.equal(first.toString(), 'hello ', 'fresh: an answer is not overwritten by the next read');
      other.close();
      t.equal((await reader.read(0, 5)).toString(), 'hello', 'closing one reader leaves the other reading');
      t.equal((await store.openLogReader(DEMO_ID, 'stderr').read(0, 10)).length, 0, 'the other stream is its own log');
      await store.delete(DEMO_ID);
      t.equal(await reader.size(), 0, 'a deleted log has size 0');
      t.equal((await reader.read(0, 12)).length, 0, 'and reads empty');
      reader.close();
      reader.close();
      await rejectsWith(t, reader.read(0, 1), 'io', 'a read after close');
      const invalid = store.openLogReader('../x', 'stdout');
      t.equal(await invalid.size(), 0, 'an invalid id reads as an empty log');
      t.equal((await invalid.read(0, 10)).length, 0, 'with nothing in it');
    });

    t.test('logLocation names two distinct logs and a state folder per session', async (t) => {
      const { store } = await makeStore(t);
      await store.create(makeRecord(), makeMetadata());
      const here = store.logLocation(DEMO_ID);
      t.not(here.stdout, here.stderr);
      t.ok(here.stdout.includes(DEMO_ID) && here.stderr.includes(DEMO_ID) && here.stateDir.includes(DEMO_ID));
      t.not(store.logLocation(OTHER_ID).stdout, here.stdout, 'another session logs elsewhere');
    });

    t.test('probe resolves on a healthy store', async (t) => {
      const { store } = await makeStore(t);
      await store.probe();
      await store.probe();
      t.pass('probed twice');
    });
  });
}

/** Every file under `root` with its size and content hash, so any write shows up. */
async function treeSnapshot(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const out: string[] = [];
  for (const entry of entries) {
    const path = join(entry.parentPath, entry.name);
    const rel = path.slice(root.length);
    if (entry.isDirectory()) out.push(`${rel}/`);
    else out.push(`${rel} ${createHash('sha256').update(await readFile(path)).digest('hex')}`);
  }
  return out.sort();
}

async function memorySnapshot(store: MemoryStore): Promise<unknown> {
  const records = byId(await store.list());
  return Promise.all(
    records.map(async (record) => ({
      record,
      metadata: await store.getMetadata(record.id),
      stdout: (await store.readLog(record.id, 'stdout', 0, Number.POSITIVE_INFINITY)).toString('hex'),
      stderr: (await store.readLog(record.id, 'stderr', 0, Number.POSITIVE_INFINITY)).toString('hex'),
    })),
  );
}

runStoreContract(t, 'file store', async (t) => {
  // The data folder sits one level down, so a path escaping it by `..` still lands in the snapshot.
  const root = await mkdtemp(join(tmpdir(), 'sessiond-store-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const store = createFsStore({ dataDir: join(root, 'data'), log: pino({ enabled: false }) });
  await store.init();
  t.teardown(() => store.close());
  return { store, snapshot: () => treeSnapshot(root) };
});

runStoreContract(t, 'memory store', async () => {
  const store = createMemoryStore();
  await store.init();
  return { store, snapshot: () => memorySnapshot(store) };
});
