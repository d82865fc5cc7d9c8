// The EventJournal contract: what every journal (the file journal, the memory journal) promises
// its callers. test/events/journal-contract.test.ts runs it against each implementation.
import type { Test } from 'tap';
import type { EventJournal, LifecycleEvent } from '../../src/events/journal.js';
import { makeSession } from '../events/helper.js';

export interface JournalUnderTest {
  /** Initialised, empty. */
  journal: EventJournal;
  /** Closes the journal and opens a new one over what it kept, as a restart of the service would (initialised). */
  reopen(): Promise<EventJournal>;
}

export interface JournalOptions {
  retainCount?: number;
  clock?: () => Date;
}

export type MakeJournal = (t: Test, options?: JournalOptions) => Promise<JournalUnderTest>;

const seqs = (events: LifecycleEvent[]) => events.map((event) => event.seq);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

async function appendMany(journal: EventJournal, n: number): Promise<LifecycleEvent[]> {
  const out: LifecycleEvent[] = [];
  for (let i = 0; i < n; i++) out.push(await journal.append('session.status', makeSession({ name: `s${i}` })));
  return out;
}

export function runJournalContract(t: Test, name: string, make: MakeJournal): void {
  t.test(name, async (t) => {
    t.test('a new journal is empty', async (t) => {
      const { journal } = await make(t);
      t.equal(journal.lastSeq(), 0, 'lastSeq is 0');
      t.equal(journal.oldestSeq(), 1, 'oldestSeq is lastSeq + 1 when nothing is kept');
      t.same(await journal.readAfter(0, 100), []);
    });

    t.test('append numbers events from 1, stamps them with the clock and keeps a copy', async (t) => {
      const clock = () => new Date('2026-03-04T05:06:07.089Z');
      const { journal } = await make(t, { clock });
      const session = makeSession({ labels: { team: 'web' } });
      const first = await journal.append('session.created', session);
      t.same(first, { seq: 1, type: 'session.created', time: '2026-03-04T05:06:07.089Z', session }, 'the event as the contract shapes it');
      session.labels.team = 'changed after the append';
      const second = await journal.append('session.started', makeSession({ status: 'running' }));
      t.equal(second.seq, 2, 'seq 2');
      t.equal(journal.lastSeq(), 2);
      t.equal(journal.oldestSeq(), 1);
      const kept = await journal.readAfter(0, 10);
      t.same(seqs(kept), [1, 2]);
      t.equal(kept[0]?.session.labels.team, 'web', 'what the caller changes later does not change the journal');
      t.equal(kept[1]?.type, 'session.started');
    });

    t.test('readAfter: after a seq, oldest first, at most limit', async (t) => {
      const { journal } = await make(t);
      await appendMany(journal, 10);
      t.same(seqs(await journal.readAfter(0, 100)), range(1, 10), 'all');
      t.same(seqs(await journal.readAfter(3, 4)), [4, 5, 6, 7], 'a page');
      t.same(seqs(await journal.readAfter(9, 100)), [10], 'the last');
      t.same(await journal.readAfter(10, 100), [], 'nothing after the last');
      t.same(await journal.readAfter(0, 0), [], 'limit 0');
    });

    t.test('subscribers hear every event once, in seq order, once it is readable', async (t) => {
      const { journal } = await make(t);
      const heard: number[] = [];
      const readable: boolean[] = [];
      journal.subscribe((event) => {
        heard.push(event.seq);
        readable.push(journal.lastSeq() >= event.seq);
      });
      await appendMany(journal, 5);
      t.same(heard, range(1, 5));
      t.ok(readable.every(Boolean), 'lastSeq already covers the event when a subscriber hears it');
      for (const seq of heard) t.equal((await journal.readAfter(seq - 1, 1))[0]?.seq, seq, `event ${seq} is readable`);
    });

    t.test('concurrent appends: seq order is call order, for callers and subscribers alike', async (t) => {
      const { journal } = await make(t);
      const heard: string[] = [];
      journal.subscribe((event) => heard.push(event.session.name));
      const names = range(1, 50).map((i) => `burst-${i}`);
      const events = await Promise.all(names.map((name) => journal.append('session.created', makeSession({ name }))));
      t.same(seqs(events), range(1, 50), 'each caller got the seq of its turn');
      t.same(events.map((event) => event.session.name), names);
      t.same(heard, names, 'subscribers heard them in call order');
      t.same((await journal.readAfter(0, 100)).map((event) => event.session.name), names, 'kept in call order');
    });

    t.test('unsubscribe stops delivery; a failing subscriber harms neither the append nor the others', async (t) => {
      const { journal } = await make(t);
      const a: number[] = [];
      const b: number[] = [];
      const stopA = journal.subscribe((event) => a.push(event.seq));
      journal.subscribe(() => {
        throw new Error('a subscriber fault');
      });
      journal.subscribe((event) => b.push(event.seq));
      await journal.append('session.created', makeSession());
      stopA();
      const second = await journal.append('session.ended', makeSession());
      t.equal(second.seq, 2, 'the append succeeded');
      t.same(a, [1], 'no event after unsubscribe');
      t.same(b, [1, 2], 'the subscriber after the failing one heard everything');
    });

    t.test('seq goes on after a restart', async (t) => {
      const harness = await make(t);
      await appendMany(harness.journal, 3);
      const reopened = await harness.reopen();
      t.equal(reopened.lastSeq(), 3, 'lastSeq survives');
      const next = await reopened.append('session.deleted', makeSession());
      t.equal(next.seq, 4, 'the next seq follows the last one');
      t.same(seqs(await reopened.readAfter(0, 100)), range(1, 4), 'what was kept is still there');
    });

    t.test('retention keeps at least the last retainCount events, contiguous up to the newest', async (t) => {
      const { journal } = await make(t, { retainCount: 5 });
      await appendMany(journal, 23);
      const kept = await journal.readAfter(0, 1000);
      const oldest = journal.oldestSeq();
      t.ok(oldest <= 19, `the last 5 are kept (oldest ${oldest})`);
      t.equal(kept[0]?.seq, oldest, 'oldestSeq is the first event readAfter gives');
      t.same(seqs(kept), range(oldest, 23), 'every kept event, in order, without a hole');
      t.same(seqs(await journal.readAfter(oldest - 5, 2)), [oldest, oldest + 1], 'reading from before the oldest starts at the oldest');
    });

    t.test('append after close fails', async (t) => {
      const { journal } = await make(t);
      await journal.append('session.created', makeSession());
      await journal.close();
      await t.rejects(journal.append('session.created', makeSession()), /closed/);
    });
  });
}
