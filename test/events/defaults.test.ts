// The event journal's retention defaults are the contract's: "The service retains at least the
// last 10,000 events or 24 hours, whichever is more" (api.md, Lifecycle events). There is no
// setting for them (app.ts opens the journal with its defaults), so the defaults are the promise:
// checked here as numbers and as what a journal opened with no retention options keeps.
import t, { type Test } from 'tap';
import { DEFAULT_RETAIN_COUNT, DEFAULT_RETAIN_MS, createFileJournal, type FileJournal } from '../../src/events/file-journal.js';
import type { LifecycleEvent } from '../../src/events/journal.js';
import { tempDir } from '../helper.js';
import { makeSession, manualClock, recordingLog } from './helper.js';

const HOUR = 60 * 60 * 1000;
const seqs = (events: LifecycleEvent[]) => events.map((event) => event.seq);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** A journal with no retention options: only dataDir, a log and a clock the test moves. */
async function defaultJournal(t: Test, dataDir: string, clock: ReturnType<typeof manualClock>): Promise<FileJournal> {
  const journal = createFileJournal({ dataDir, log: recordingLog(), clock: clock.now });
  await journal.init();
  t.teardown(() => journal.close());
  return journal;
}

/** Appends `n` events, `stepMs` apart on the clock, in batches (group commit: a few disk flushes, not n). */
async function appendSpaced(journal: FileJournal, clock: ReturnType<typeof manualClock>, n: number, stepMs: number): Promise<void> {
  const BATCH = 500;
  for (let done = 0; done < n; done += BATCH) {
    const pending: Array<Promise<LifecycleEvent>> = [];
    for (let i = done; i < Math.min(n, done + BATCH); i++) {
      pending.push(journal.append('session.status', makeSession({ name: `s${i}` })));
      clock.advance(stepMs);
    }
    await Promise.all(pending);
  }
}

t.test('the defaults are the contract’s numbers: 10,000 events, 24 hours', async (t) => {
  t.equal(DEFAULT_RETAIN_COUNT, 10_000);
  t.equal(DEFAULT_RETAIN_MS, 24 * HOUR);
});

t.test('by default, when every event is older than 24 hours, the newest 10,000 are still kept', async (t) => {
  const dataDir = await tempDir(t);
  const clock = manualClock();
  const journal = await defaultJournal(t, dataDir, clock);
  // 12,000 events 30 s apart span 100 hours: the last 24 hours hold only 2,880 of them, so the
  // count is what must keep the rest.
  await appendSpaced(journal, clock, 12_000, 30_000);
  clock.advance(48 * HOUR);
  await journal.append('session.status', makeSession({ name: 'last' }));
  const last = journal.lastSeq();
  t.equal(last, 12_001);

  const oldest = journal.oldestSeq();
  t.ok(oldest <= last - 10_000 + 1, `at least the last 10,000 are kept (oldest ${oldest}, last ${last})`);
  t.ok(oldest > 1, `yet older ones went: retention is not "forever" (oldest ${oldest})`);
  t.same(seqs(await journal.readAfter(last - 10_000, 20_000)), range(last - 9_999, last), 'the newest 10,000 read back, no hole');
  t.same(seqs(await journal.readAfter(oldest - 1, 20_000)), range(oldest, last), 'everything from the oldest kept, no hole');
  t.equal(journal.stats().inMemory, 10_000, 'the newest 10,000 are held in memory');

  // The same window after a restart.
  await journal.close();
  const reopened = await defaultJournal(t, dataDir, clock);
  t.equal(reopened.oldestSeq(), oldest);
  t.same(seqs(await reopened.readAfter(last - 10_000, 20_000)), range(last - 9_999, last), 'still the newest 10,000 after a reopen');
});

t.test('by default, more than 10,000 events of the last 24 hours all stay; once older, down to 10,000', async (t) => {
  const dataDir = await tempDir(t);
  const clock = manualClock();
  const journal = await defaultJournal(t, dataDir, clock);
  // 11,000 events 1 s apart: about 3 hours, all within the last 24.
  await appendSpaced(journal, clock, 11_000, 1000);
  t.equal(journal.oldestSeq(), 1, 'nothing of the last 24 hours goes, however many');
  t.same(seqs(await journal.readAfter(0, 20_000)), range(1, 11_000), 'all 11,000 read back');

  clock.advance(25 * HOUR);
  await journal.append('session.status', makeSession({ name: 'a day later' }));
  const last = journal.lastSeq();
  // Retention runs after an append is acknowledged; close() waits for it. Reopened, the journal
  // shows what is on disk.
  await journal.close();
  const reopened = await defaultJournal(t, dataDir, clock);
  const oldest = reopened.oldestSeq();
  t.ok(oldest > 1, `a day later the oldest went (oldest ${oldest})`);
  t.ok(oldest <= last - 10_000 + 1, `and the last 10,000 stayed (oldest ${oldest}, last ${last})`);
  t.same(seqs(await reopened.readAfter(oldest - 1, 20_000)), range(oldest, last), 'no hole');
});
