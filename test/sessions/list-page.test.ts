// A page walked from the sorted index is exactly the page of the v1 listing (filter every record,
// sort newest first, cut after the cursor): same items, same cursors, over random stores.
import t from 'tap';
import { labelsMatch, parseLabelSelector } from '../../schemas/labels.js';
import type { ListSessionsQuery } from '../../schemas/requests.js';
import type { SessionRecord, SessionStatus } from '../../schemas/session.js';
import { ListIndex, SessionListIndex, type ListKey, type ListPosition } from '../../src/store/list-index.js';
import { decodeCursor, encodeCursor, newestFirst } from '../../src/sessions/list-order.js';
import { listPage, sortedSource, type OrderedSource } from '../../src/sessions/queries.js';
import { makeRecord } from '../fakes/records.js';

/** The v1 listing as it was written first: every record filtered and sorted per request. */
function referencePage(records: SessionRecord[], query: ListSessionsQuery) {
  const after = query.cursor === undefined ? null : decodeCursor(query.cursor);
  const statuses = query.status && query.status.length > 0 ? new Set<string>(query.status) : null;
  const labels = parseLabelSelector(query.label);
  const matching = records
    .filter((r) => !statuses || statuses.has(r.status))
    .filter((r) => query.executive === undefined || r.executive === query.executive)
    .filter((r) => query.mission_id === undefined || r.mission_id === query.mission_id)
    .filter((r) => query.assignment_id === undefined || r.assignment_id === query.assignment_id)
    .filter((r) => labelsMatch(r.labels, labels))
    .filter((r) => !after || newestFirst(r, after) > 0)
    .sort(newestFirst);
  const page = matching.slice(0, query.limit);
  const last = page[page.length - 1];
  const more = matching.length > page.length && last !== undefined;
  return { items: page.map((r) => r.id), next_cursor: more ? encodeCursor(last) : null };
}

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const STATUSES: SessionStatus[] = ['queued', 'starting', 'running', 'exited', 'failed', 'stopped'];

/** The store's view of an index, counting the records a page reads. */
function sourceOf(index: SessionListIndex, visited = { n: 0 }): OrderedSource {
  return {
    *newestFirst(after: ListPosition | undefined, key?: ListKey) {
      for (const record of index.newestFirst(after, key)) {
        visited.n++;
        yield record;
      }
    },
    count: (key?: ListKey) => index.count(key),
  };
}

/** A ListIndex over `records`, as the one-order tests use it. */
function plainSource(index: ListIndex): OrderedSource {
  return { newestFirst: (after) => index.newestFirst(after), count: () => index.size };
}

t.test('pages from the index equal the reference listing, across filters, cursors and changes', async (t) => {
  const rnd = random(13);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const index = new SessionListIndex();
  const records = new Map<string, SessionRecord>();
  // Few distinct times, so ties on started_at (ordered by id) are common.
  const time = () => `2026-01-01T00:00:0${Math.floor(rnd() * 6)}.000Z`;
  const build = (id: string) =>
    makeRecord({
      id,
      started_at: time(),
      status: pick(STATUSES),
      executive: pick(['Ann', 'Bo']),
      mission_id: pick([null, 'm1', 'm2']),
      assignment_id: pick([null, 'a1']),
      labels: pick<Record<string, string>>([{}, { team: 'web' }, { team: 'web', env: 'prod' }, { env: 'prod' }]),
    });
  let checked = 0;
  for (let round = 0; round < 40; round++) {
    // Changes of every kind: creates, puts that move a record, puts in place, deletes.
    for (let i = 0; i < 8; i++) {
      const roll = rnd();
      const existing = [...records.keys()];
      if (roll < 0.5 || existing.length === 0) {
        const record = build(`s${round}x${i}-abc123-xyz`);
        index.set(record);
        records.set(record.id, record);
      } else if (roll < 0.8) {
        const id = pick(existing);
        const previous = records.get(id) as SessionRecord;
        const next = rnd() < 0.5 ? { ...build(id) } : { ...previous, status: pick(STATUSES) };
        index.set(next, previous);
        records.set(id, next);
      } else {
        const id = pick(existing);
        index.delete(records.get(id) as SessionRecord);
        records.delete(id);
      }
    }
    const queries: Array<Omit<ListSessionsQuery, 'limit'>> = [
      {},
      { status: ['running', 'queued'] },
      { mission_id: 'm1' },
      { executive: 'Bo', assignment_id: 'a1' },
      { label: ['team=web'] },
      { label: ['team=web', 'env=prod'] },
      { mission_id: 'none' },
      { status: ['exited', 'failed', 'stopped'], label: ['env=prod'] },
      { status: ['running'], mission_id: 'm2', executive: 'Ann' },
    ];
    for (const filter of queries) {
      for (const limit of [1, 3, 50]) {
        let cursor: string | undefined;
        for (let pages = 0; pages < 100; pages++) {
          const query: ListSessionsQuery = { ...filter, limit, ...(cursor !== undefined && { cursor }) };
          const want = referencePage([...records.values()], query);
          const got = listPage(sourceOf(index), query);
          const viaArray = listPage(sortedSource([...records.values()]), query);
          checked++;
          for (const [what, page] of [['index', got], ['array fallback', viaArray]] as const) {
            const seen = JSON.stringify({ items: page.items.map((r) => r.id), next_cursor: page.next_cursor });
            // One assertion per mismatch only: thousands of passing ones would drown the report.
            if (seen !== JSON.stringify(want)) {
              t.fail(`${what}, round ${round}, query ${JSON.stringify(query)}: got ${seen}, want ${JSON.stringify(want)}`);
              return;
            }
          }
          if (want.next_cursor === null) break;
          cursor = want.next_cursor;
        }
      }
    }
  }
  t.ok(checked > 1000, `${checked} pages compared`);
});

t.test('a cursor whose record was deleted or moved still continues the listing where it was', async (t) => {
  const list = new ListIndex();
  const index = plainSource(list);
  const rec = (id: string, second: number) => makeRecord({ id, started_at: `2026-01-01T00:00:0${second}.000Z` });
  const [a, b, c, d] = [rec('a-abc123-xyz', 1), rec('b-abc123-xyz', 2), rec('c-abc123-xyz', 3), rec('d-abc123-xyz', 4)];
  list.rebuild([a, b, c, d]);
  const first = listPage(index, { limit: 2 });
  t.same(first.items.map((r) => r.id), [d.id, c.id]);
  list.delete(c);
  list.set({ ...d, started_at: '2026-01-01T00:00:00.000Z' }, d);
  const second = listPage(index, { limit: 2, cursor: first.next_cursor as string });
  t.same(second.items.map((r) => r.id), [b.id, a.id], 'what came after the deleted cursor record');
  t.equal(second.next_cursor, encodeCursor(a), 'and more: the moved record is now further on');
  const third = listPage(index, { limit: 2, cursor: second.next_cursor as string });
  t.same(third.items.map((r) => r.id), [d.id], 'the moved record, at its new place');
  t.equal(third.next_cursor, null);
});

t.test('a page reads its page and one more record of its narrowest order, however many are stored', async (t) => {
  const index = new SessionListIndex();
  const all: SessionRecord[] = [];
  for (let i = 0; i < 2000; i++) {
    const started = new Date(Date.parse('2026-01-01T00:00:00Z') + i * 1000).toISOString();
    all.push(
      makeRecord({
        id: `r${i}-abc123-xyz`,
        started_at: started,
        status: i % 100 === 0 ? 'running' : i % 100 === 1 ? 'starting' : 'exited',
        mission_id: i % 500 === 0 ? 'rare' : 'common',
        labels: i % 250 === 0 ? { team: 'rare' } : { team: 'common' },
      }),
    );
  }
  index.rebuild(all);
  const read = (query: ListSessionsQuery) => {
    const visited = { n: 0 };
    const page = listPage(sourceOf(index, visited), query);
    return { items: page.items.length, more: page.next_cursor !== null, visited: visited.n };
  };
  t.same(read({ limit: 10 }), { items: 10, more: true, visited: 11 }, 'unfiltered: the page and one more');
  const deep = listPage(sourceOf(index), { limit: 1000 }).next_cursor as string;
  t.same(read({ limit: 10, cursor: deep }), { items: 10, more: true, visited: 11 }, 'from a cursor 1,000 records deep: the same');
  t.same(read({ limit: 10, mission_id: 'rare' }), { items: 4, more: false, visited: 4 }, 'a rare mission: only its own records');
  t.same(read({ limit: 10, label: ['team=rare'] }), { items: 8, more: false, visited: 8 }, 'a rare label: only its own records');
  // A merge holds the next record of each order it merges: one more read per extra status.
  t.same(read({ limit: 10, status: ['running', 'starting'] }), { items: 10, more: true, visited: 12 }, 'two statuses: their indexes merged');
  t.same(read({ limit: 50, status: ['running', 'starting'], mission_id: 'rare' }), { items: 4, more: false, visited: 4 }, 'the most selective filter is the one walked');
  t.same(read({ limit: 10, status: ['failed'] }), { items: 0, more: false, visited: 0 }, 'a status nobody has: nothing read');
  const merged = listPage(sourceOf(index), { limit: 500, status: ['running', 'starting'] }).items.map((r) => r.id);
  t.same(merged, all.filter((r) => r.status !== 'exited').sort(newestFirst).map((r) => r.id), 'merged statuses come out in listing order');

  // Changes move records between the secondary orders.
  const moved = all[0] as SessionRecord; // running, mission rare, team rare
  index.set({ ...moved, status: 'exited', mission_id: 'common', labels: {} }, moved);
  t.same(read({ limit: 10, mission_id: 'rare' }), { items: 3, more: false, visited: 3 }, 'a put leaves the mission it no longer has');
  t.same(read({ limit: 10, label: ['team=rare'] }), { items: 7, more: false, visited: 7 }, 'and the label');
  index.delete(all[500] as SessionRecord);
  t.same(read({ limit: 10, mission_id: 'rare' }), { items: 2, more: false, visited: 2 }, 'a delete leaves them all');
  t.equal(index.count(), 1999);
});
