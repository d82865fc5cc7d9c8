// Listing: filters, the newest-first order and the opaque cursor. A page walks the records in
// order from its cursor and stops once it has one match past the page (so it knows there is
// more). It walks the smallest order that holds every match: the records of its most selective
// filter (one status index per status asked, merged), else all. Its cost is the page plus the
// records that order holds and the other filters skip, never a sort or copy of every record.
import type { ListSessionsQuery } from '../../schemas/requests.js';
import { labelsMatch, parseLabelSelector } from '../../schemas/labels.js';
import type { ListedRecord } from '../store/store.js';
import { listKey, type ListKey, type ListPosition } from '../store/list-index.js';
import { decodeCursor, encodeCursor, newestFirst } from './list-order.js';

export interface Page {
  items: ListedRecord[];
  next_cursor: string | null;
}

/** Records in listing order (all, or those under one filter key), starting just after `after`. */
export interface OrderedSource {
  newestFirst(after: ListPosition | undefined, key?: ListKey): Iterable<ListedRecord>;
  /** How many records are under `key` (all without one); Infinity: walk the whole listing instead. */
  count(key?: ListKey): number;
}

export function listPage(source: OrderedSource, query: ListSessionsQuery): Page {
  const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
  const matches = matcher(query);
  const items: ListedRecord[] = [];
  for (const record of narrowest(source, query, after)) {
    if (!matches(record)) continue;
    if (items.length === query.limit) return { items, next_cursor: encodeCursor(items[items.length - 1] as ListedRecord) };
    items.push(record);
  }
  return { items, next_cursor: null };
}

/** The smallest ordered walk that holds every record the query can match. */
function narrowest(source: OrderedSource, query: ListSessionsQuery, after: ListPosition | undefined): Iterable<ListedRecord> {
  let best: { count: number; walk: () => Iterable<ListedRecord> } = { count: source.count(), walk: () => source.newestFirst(after) };
  const consider = (keys: ListKey[]) => {
    const count = keys.reduce((sum, key) => sum + source.count(key), 0);
    if (count < best.count) best = { count, walk: () => (keys.length === 1 ? source.newestFirst(after, keys[0]) : merged(keys.map((key) => source.newestFirst(after, key)))) };
  };
  // A record has one status: the status indexes asked for hold every match, once each.
  if (query.status && query.status.length > 0) consider([...new Set(query.status)].map((status) => listKey('status', status)));
  if (query.executive !== undefined) consider([listKey('executive', query.executive)]);
  if (query.mission_id !== undefined) consider([listKey('mission_id', query.mission_id)]);
  if (query.assignment_id !== undefined) consider([listKey('assignment_id', query.assignment_id)]);
  for (const [key, value] of Object.entries(parseLabelSelector(query.label))) consider([listKey('label', `${key}=${value}`)]);
  return best.walk();
}

/** Several walks in listing order merged into one (a handful of them: a linear pick per record is enough). */
function* merged(walks: Iterable<ListedRecord>[]): Generator<ListedRecord, void, undefined> {
  const iterators = walks.map((walk) => walk[Symbol.iterator]());
  const heads = iterators.map((it) => it.next());
  for (;;) {
    let best = -1;
    for (let i = 0; i < heads.length; i++) {
      const head = heads[i] as IteratorResult<ListedRecord>;
      if (head.done) continue;
      if (best < 0 || newestFirst(head.value, (heads[best] as IteratorYieldResult<ListedRecord>).value) < 0) best = i;
    }
    if (best < 0) return;
    yield (heads[best] as IteratorYieldResult<ListedRecord>).value;
    heads[best] = (iterators[best] as Iterator<ListedRecord>).next();
  }
}

/** An ordered source over a plain array (records not in the store's index yet): sorts it once per walk. */
export function sortedSource(records: readonly ListedRecord[]): OrderedSource {
  return {
    newestFirst: (after) => {
      const rest = after ? records.filter((r) => newestFirst(r, after) > 0) : [...records];
      return rest.sort(newestFirst);
    },
    // No secondary orders here: the whole listing is always the walk.
    count: (key) => (key === undefined ? records.length : Number.POSITIVE_INFINITY),
  };
}

function matcher(query: ListSessionsQuery): (record: ListedRecord) => boolean {
  const statuses = query.status && query.status.length > 0 ? new Set<string>(query.status) : null;
  const labels = parseLabelSelector(query.label);
  const anyLabels = Object.keys(labels).length > 0;
  const { executive, mission_id: missionId, assignment_id: assignmentId } = query;
  return (r) =>
    (!statuses || statuses.has(r.status)) &&
    (executive === undefined || r.executive === executive) &&
    (missionId === undefined || r.mission_id === missionId) &&
    (assignmentId === undefined || r.assignment_id === assignmentId) &&
    (!anyLabels || labelsMatch(r.labels, labels));
}
