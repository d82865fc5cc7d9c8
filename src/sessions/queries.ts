// Listing: filters, the newest-first order and the opaque cursor. A page walks the records in
// order from its cursor and stops once it has one match past the page (so it knows there is
// more): its cost is the page plus the records its filters skip, not every stored record.
import type { ListSessionsQuery } from '../../schemas/requests.js';
import { labelsMatch, parseLabelSelector } from '../../schemas/labels.js';
import type { SessionRecord } from '../../schemas/session.js';
import type { ListPosition } from '../store/list-index.js';
import { decodeCursor, encodeCursor, newestFirst } from './list-order.js';

export interface Page {
  items: SessionRecord[];
  next_cursor: string | null;
}

/** Records in listing order, starting just after `after` when given. */
export type OrderedSource = (after: ListPosition | undefined) => Iterable<SessionRecord>;

export function listPage(source: OrderedSource, query: ListSessionsQuery): Page {
  const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
  const matches = matcher(query);
  const items: SessionRecord[] = [];
  for (const record of source(after)) {
    if (!matches(record)) continue;
    if (items.length === query.limit) return { items, next_cursor: encodeCursor(items[items.length - 1] as SessionRecord) };
    items.push(record);
  }
  return { items, next_cursor: null };
}

/** An ordered source over a plain array (records not in the store's index yet): sorts it once. */
export function sortedSource(records: readonly SessionRecord[]): OrderedSource {
  return (after) => {
    const rest = after ? records.filter((r) => newestFirst(r, after) > 0) : [...records];
    return rest.sort(newestFirst);
  };
}

function matcher(query: ListSessionsQuery): (record: SessionRecord) => boolean {
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
