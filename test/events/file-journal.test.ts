// What only the file journal promises: its files on disk, a crash's torn end, damaged segments,
// retention by count and by age, group commit, and reads that span segments and memory.
import { appendFile, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import t, { type Test } from 'tap';
import { createFileJournal, type FileJournal, type FileJournalOptions } from '../../src/events/file-journal.js';
import type { LifecycleEvent } from '../../src/events/journal.js';
import { tempDir } from '../helper.js';
import { makeSession, manualClock, recordingLog } from './helper.js';

const seqs = (events: LifecycleEvent[]) => events.map((event) => event.seq);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

async function openJournal(t: Test, dataDir: string, options: Partial<FileJournalOptions> = {}) {
  const log = recordingLog();
  const journal = createFileJournal({ dataDir, log, ...options });
  await journal.init();
  t.teardown(() => journal.close());
  return { journal, log };
}

async function appendMany(journal: FileJournal, n: number, step?: () => void): Promise<void> {
  for (let i = 0; i < n; i++) {
    await journal.append('session.status', makeSession({ name: `s${journal.lastSeq() + 1}` }));
    step?.();
  }
}

const segmentFiles = async (dataDir: string) => (await readdir(path.join(dataDir, 'events'))).sort();

t.test('events are JSONL segments only the service can read, and seq survives a reopen', async (t) => {
  const dataDir = await tempDir(t);
  const first = await openJournal(t, dataDir, { segmentEvents: 3 });
  await appendMany(first.journal, 7);
  await first.journal.close();

  const files = await segmentFiles(dataDir);
  t.same(files, ['0000000000000001.jsonl', '0000000000000004.jsonl', '0000000000000007.jsonl'], 'one file per 3 events, named by first seq');
  t.equal((await stat(path.join(dataDir, 'events'))).mode & 0o777, 0o700, 'the folder is 0700');
  for (const file of files) t.equal((await stat(path.join(dataDir, 'events', file))).mode & 0o777, 0o600, `${file} is 0600`);
  const lines = (await readFile(path.join(dataDir, 'events', files[0] as string), 'utf8')).trim().split('\n');
  t.same(lines.map((line) => JSON.parse(line).seq), [1, 2, 3], 'one event per line');

  const second = await openJournal(t, dataDir, { segmentEvents: 3 });
  t.equal(second.journal.lastSeq(), 7, 'lastSeq is found again');
  t.equal((await second.journal.append('session.created', makeSession())).seq, 8, 'seq goes on');
  t.same(seqs(await second.journal.readAfter(0, 100)), range(1, 8));
  t.same(second.log.warnings(), [], 'a clean reopen warns of nothing');
});

t.test('a torn last line after a crash is cut away; the service starts and goes on', async (t) => {
  const dataDir = await tempDir(t);
  const crashed = await openJournal(t, dataDir, { segmentEvents: 100 });
  await appendMany(crashed.journal, 3);
  // No close(): the process died. Its last write reached the disk only in part.
  const file = path.join(dataDir, 'events', '0000000000000001.jsonl');
  const intact = (await stat(file)).size;
  await appendFile(file, '{"seq":4,"type":"session.sta');

  const { journal, log } = await openJournal(t, dataDir, { segmentEvents: 100 });
  t.equal(journal.lastSeq(), 3, 'the torn event never counted (its append was never acknowledged)');
  t.equal((await stat(file)).size, intact, 'the torn bytes are gone from the file');
  t.match(log.warnings(), [{ msg: /torn end/ }], 'the repair is logged');
  t.equal((await journal.append('session.created', makeSession())).seq, 4, 'the next append takes seq 4');
  await journal.close();

  const again = await openJournal(t, dataDir, { segmentEvents: 100 });
  t.same(seqs(await again.journal.readAfter(0, 100)), range(1, 4), 'the file reads back whole after the repair');
  t.same(again.log.warnings(), []);
});

t.test('zeros at the end of a segment (a crash on some file systems) are cut away too', async (t) => {
  const dataDir = await tempDir(t);
  const crashed = await openJournal(t, dataDir);
  await appendMany(crashed.journal, 2);
  await appendFile(path.join(dataDir, 'events', '0000000000000001.jsonl'), Buffer.alloc(4096));
  const { journal } = await openJournal(t, dataDir);
  t.equal(journal.lastSeq(), 2);
  t.equal((await journal.append('session.created', makeSession())).seq, 3);
  t.same(seqs(await journal.readAfter(0, 10)), [1, 2, 3]);
});

t.test('a newest segment with nothing good in it does not lower seq', async (t) => {
  const dataDir = await tempDir(t);
  const crashed = await openJournal(t, dataDir, { segmentEvents: 2 });
  await appendMany(crashed.journal, 4);
  // The segment for seq 5 was created, then the crash came before its first line was whole.
  await writeFile(path.join(dataDir, 'events', '0000000000000005.jsonl'), '{"seq":5,');
  const { journal } = await openJournal(t, dataDir, { segmentEvents: 2 });
  t.equal(journal.lastSeq(), 4);
  t.equal((await journal.append('session.created', makeSession())).seq, 5);
  t.same(seqs(await journal.readAfter(0, 10)), range(1, 5));
});

t.test('a damaged segment is logged and skipped, never fatal', async (t) => {
  const dataDir = await tempDir(t);
  const clock = manualClock();
  const first = await openJournal(t, dataDir, { segmentEvents: 4, retainCount: 2, clock: clock.now });
  await appendMany(first.journal, 12);
  await first.journal.close();
  // Garbage in the middle of the second segment (seq 5..8): one line ruined, one glued to garbage.
  const file = path.join(dataDir, 'events', '0000000000000005.jsonl');
  const lines = (await readFile(file, 'utf8')).split('\n');
  lines[1] = 'not json at all \u0000\u0000';
  lines[2] = `\u0000garbage${lines[2]}`;
  await writeFile(file, lines.join('\n'));
  // And the oldest segment (seq 1..4) holds nothing readable any more.
  const oldest = path.join(dataDir, 'events', '0000000000000001.jsonl');
  await writeFile(oldest, 'garbage\n'.repeat(10));

  const { journal, log } = await openJournal(t, dataDir, { segmentEvents: 4, retainCount: 2, clock: clock.now });
  t.equal(journal.lastSeq(), 12, 'the service starts with the right seq');
  t.same(seqs(await journal.readAfter(0, 100)), [5, 7, 8, 9, 10, 11, 12], 'only what was ruined is missing');
  t.same(seqs(await journal.readAfter(0, 100)), [5, 7, 8, 9, 10, 11, 12], 'read twice, the same');
  const damage = log.warnings().filter((entry) => /damaged/.test(entry.msg) && entry.obj.file === file);
  t.equal(damage.length, 1, 'the damaged segment is reported once, not on every read');
  t.match(damage[0]?.obj, { file, badLines: 1 });
  t.ok(log.warnings().some((entry) => /no readable event/.test(entry.msg) && entry.obj.file === oldest), 'the unreadable segment is reported');
  t.equal((await journal.append('session.created', makeSession())).seq, 13, 'appends go on');
});

t.test('retention by count: whole old segments go, at least retainCount stay, memory holds at most retainCount', async (t) => {
  const dataDir = await tempDir(t);
  const clock = manualClock();
  // retainMs 0: only the count keeps events.
  const { journal } = await openJournal(t, dataDir, { segmentEvents: 4, retainCount: 10, retainMs: 0, clock: clock.now });
  await appendMany(journal, 50, () => clock.advance(1));
  const oldest = journal.oldestSeq();
  t.ok(oldest <= 41, `the last 10 are kept (oldest ${oldest})`);
  t.ok(oldest > 30, `old segments went (oldest ${oldest})`);
  t.same(seqs(await journal.readAfter(0, 1000)), range(oldest, 50), 'kept events read back without a hole');
  const files = await segmentFiles(dataDir);
  t.ok(files.length <= 4, `only the segments holding the last 10 stay (${files.length})`);
  t.equal(files[0], `${String(oldest).padStart(16, '0')}.jsonl`, 'oldestSeq is the first kept segment');
  t.ok(journal.stats().inMemory <= 10, 'memory holds at most retainCount events');

  await journal.close();
  const reopened = await openJournal(t, dataDir, { segmentEvents: 4, retainCount: 10, retainMs: 0, clock: clock.now });
  t.equal(reopened.journal.oldestSeq(), oldest, 'the same window after a reopen');
  t.equal(reopened.journal.lastSeq(), 50);
});

t.test('retention by age: events of the last retainMs stay however many they are; older ones go', async (t) => {
  const dataDir = await tempDir(t);
  const clock = manualClock();
  const hour = 60 * 60 * 1000;
  const options = { segmentEvents: 5, retainCount: 3, retainMs: hour, clock: clock.now };
  const { journal } = await openJournal(t, dataDir, options);
  await appendMany(journal, 30, () => clock.advance(1000));
  t.equal(journal.oldestSeq(), 1, 'all 30 are younger than an hour: all stay');
  t.same(seqs(await journal.readAfter(0, 100)), range(1, 30));
  t.ok(journal.stats().inMemory <= 3, 'yet memory holds only the last retainCount');

  clock.advance(2 * hour);
  await appendMany(journal, 1);
  t.ok(journal.oldestSeq() >= 26, `now the count decides: old segments went (oldest ${journal.oldestSeq()})`);
  t.ok(journal.oldestSeq() <= 29, 'and the last 3 stayed');
  t.same(seqs(await journal.readAfter(0, 100)), range(journal.oldestSeq(), 31));
});

t.test('group commit: 200 concurrent appends keep call order and share disk flushes', async (t) => {
  const dataDir = await tempDir(t);
  const { journal } = await openJournal(t, dataDir, { segmentEvents: 64 });
  const heard: number[] = [];
  journal.subscribe((event) => heard.push(event.seq));
  const names = range(1, 200).map((i) => `burst-${i}`);
  const before = journal.stats().commits;
  const events = await Promise.all(names.map((name) => journal.append('session.created', makeSession({ name }))));
  t.same(seqs(events), range(1, 200), 'seq follows call order');
  t.same(events.map((event) => event.session.name), names, 'each caller got its own event');
  t.same(heard, range(1, 200), 'subscribers heard them in seq order');
  const commits = journal.stats().commits - before;
  // 200 events over segments of 64: one commit per segment touched, not one per event.
  t.ok(commits <= 8, `${commits} disk flushes for 200 appends`);

  // And a second wave while the first is still being flushed joins one later commit.
  const wave1 = Promise.all(range(1, 50).map(() => journal.append('session.status', makeSession())));
  const wave2 = Promise.all(range(1, 50).map(() => journal.append('session.ended', makeSession())));
  const [a, b] = await Promise.all([wave1, wave2]);
  t.same([...seqs(a), ...seqs(b)], range(201, 300));
  t.same(heard, range(1, 300));

  await journal.close();
  const reopened = await openJournal(t, dataDir, { segmentEvents: 64 });
  t.same((await reopened.journal.readAfter(0, 1000)).map((event) => event.session.name).slice(0, 200), names, 'on disk in the same order');
});

t.test('readAfter spans old segments on disk and the newest events in memory', async (t) => {
  const dataDir = await tempDir(t);
  const clock = manualClock();
  // Age keeps everything; memory holds 3.
  const options = { segmentEvents: 5, retainCount: 3, retainMs: 24 * 60 * 60 * 1000, clock: clock.now };
  const { journal } = await openJournal(t, dataDir, options);
  await appendMany(journal, 23);
  t.same(seqs(await journal.readAfter(0, 100)), range(1, 23), 'everything, in order');
  t.same(seqs(await journal.readAfter(3, 4)), [4, 5, 6, 7], 'across a segment boundary');
  t.same(seqs(await journal.readAfter(18, 100)), range(19, 23), 'from disk into memory');
  t.same(seqs(await journal.readAfter(21, 100)), [22, 23], 'memory only');
  await journal.close();

  const reopened = await openJournal(t, dataDir, options);
  t.ok(reopened.journal.stats().inMemory <= 5, 'a reopen loads only the newest events into memory');
  t.same(seqs(await reopened.journal.readAfter(0, 100)), range(1, 23), 'the same after a reopen');
  t.same(seqs(await reopened.journal.readAfter(9, 3)), [10, 11, 12]);
});

t.test('appends after close are refused; close waits for what is in flight', async (t) => {
  const dataDir = await tempDir(t);
  const { journal } = await openJournal(t, dataDir);
  const inFlight = Promise.all(range(1, 20).map(() => journal.append('session.created', makeSession())));
  await journal.close();
  t.same(seqs(await inFlight), range(1, 20), 'appends made before close are durable when it resolves');
  await t.rejects(journal.append('session.created', makeSession()), /closed/);
  const reopened = await openJournal(t, dataDir);
  t.equal(reopened.journal.lastSeq(), 20);
});
