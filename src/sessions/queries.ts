// Listing: filters, the newest-first order and the opaque cursor, over the store's index.
import type { ListSessionsQuery } from '../../schemas/requests.js';
import { labelsMatch, parseLabelSelector } from '../../schemas/labels.js';
import type { SessionRecord } from '../../schemas/session.js';
import { decodeCursor, encodeCursor, newestFirst } from './list-order.js';

export interface Page {
  items: SessionRecord[];
  next_cursor: string | null;
}

export function listPage(records: SessionRecord[], query: ListSessionsQuery): Page {
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
  return { items: page, next_cursor: more ? encodeCursor(last) : null };
}
