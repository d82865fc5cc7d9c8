// The listing order kept sorted: a page is a binary search to its cursor and a walk that stops
// after the page, never a sort of every record per request. Newest started_at first, the id
// breaking ties (the v1 order); kept oldest-first inside, so a new session is an append. The
// same order per filter value (status, executive, mission, assignment, label) lets a filtered
// page walk only the records its most selective filter names.
import type { ListedRecord } from './store.js';

/** Where a record stands in a listing (what a cursor carries). */
export type ListPosition = Pick<ListedRecord, 'started_at' | 'id'>;

/** Negative when `a` comes before `b` in a listing (newest first). */
export function newestFirst(a: ListPosition, b: ListPosition): number {
  if (a.started_at !== b.started_at) return a.started_at < b.started_at ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

export class ListIndex {
  /** Oldest first: the reverse of the listing, so the common insert (a new session) appends. */
  private entries: ListedRecord[] = [];

  get size(): number {
    return this.entries.length;
  }

  /** Replaces the whole index (a store's init): one sort, not one insert per record. */
  rebuild(records: Iterable<ListedRecord>): void {
    this.entries = Array.from(records).sort((a, b) => newestFirst(b, a));
  }

  /** Adds `record`, or replaces `previous` (the same id's record as indexed until now). */
  set(record: ListedRecord, previous?: ListPosition): void {
    if (previous) {
      const at = this.find(previous);
      if (at >= 0 && previous.started_at === record.started_at) {
        this.entries[at] = record;
        return;
      }
      if (at >= 0) this.entries.splice(at, 1);
    }
    this.entries.splice(this.lowerBound(record), 0, record);
  }

  delete(position: ListPosition): void {
    const at = this.find(position);
    if (at >= 0) this.entries.splice(at, 1);
  }

  /**
   * The records in listing order, starting just after `after` when given (a cursor need not name
   * a record that still exists). Lazy: read it at once, before the index can change.
   */
  *newestFirst(after?: ListPosition): Generator<ListedRecord, void, undefined> {
    for (let i = (after ? this.lowerBound(after) : this.entries.length) - 1; i >= 0; i--) {
      yield this.entries[i] as ListedRecord;
    }
  }

  /** The first index whose entry is not older (in listing terms: not after) than `position`. */
  private lowerBound(position: ListPosition): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (newestFirst(this.entries[mid] as ListedRecord, position) > 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private find(position: ListPosition): number {
    const at = this.lowerBound(position);
    const found = this.entries[at];
    return found && found.id === position.id && found.started_at === position.started_at ? at : -1;
  }
}

/** A filter the index keeps an order of its own for: `status`, `executive`, `mission_id`, `assignment_id`, `label` (`key=value`). */
export type ListField = 'status' | 'executive' | 'mission_id' | 'assignment_id' | 'label';
export type ListKey = string;

export const listKey = (field: ListField, value: string): ListKey => `${field}\u0000${value}`;

/** The keys a record is listed under (besides the whole listing). */
function keysOf(record: ListedRecord): ListKey[] {
  const keys = [listKey('status', record.status)];
  if (typeof record.executive === 'string') keys.push(listKey('executive', record.executive));
  if (typeof record.mission_id === 'string') keys.push(listKey('mission_id', record.mission_id));
  if (typeof record.assignment_id === 'string') keys.push(listKey('assignment_id', record.assignment_id));
  for (const [key, value] of Object.entries(record.labels ?? {})) keys.push(listKey('label', `${key}=${value}`));
  return keys;
}

/**
 * The whole listing order plus one order per filter value (secondary indexes), so a filtered page
 * walks only the records under its most selective filter, not every record.
 */
export class SessionListIndex {
  private readonly all = new ListIndex();
  private readonly by = new Map<ListKey, ListIndex>();

  get size(): number {
    return this.all.size;
  }

  rebuild(records: Iterable<ListedRecord>): void {
    const list = Array.from(records);
    this.all.rebuild(list);
    const groups = new Map<ListKey, ListedRecord[]>();
    for (const record of list) {
      for (const key of keysOf(record)) {
        const group = groups.get(key);
        if (group) group.push(record);
        else groups.set(key, [record]);
      }
    }
    this.by.clear();
    for (const [key, group] of groups) {
      const index = new ListIndex();
      index.rebuild(group);
      this.by.set(key, index);
    }
  }

  /** Adds `record`, or replaces `previous` (the same id's record as indexed until now). */
  set(record: ListedRecord, previous?: ListedRecord): void {
    this.all.set(record, previous);
    const before = previous ? keysOf(previous) : [];
    const after = keysOf(record);
    for (const key of before) if (!after.includes(key)) this.remove(key, previous as ListedRecord);
    for (const key of after) {
      let index = this.by.get(key);
      if (!index) {
        index = new ListIndex();
        this.by.set(key, index);
      }
      index.set(record, before.includes(key) ? previous : undefined);
    }
  }

  delete(record: ListedRecord): void {
    this.all.delete(record);
    for (const key of keysOf(record)) this.remove(key, record);
  }

  /** The listing (or the part of it under `key`), from just after `after`. Lazy: read it at once. */
  newestFirst(after?: ListPosition, key?: ListKey): Iterable<ListedRecord> {
    if (key === undefined) return this.all.newestFirst(after);
    return this.by.get(key)?.newestFirst(after) ?? [];
  }

  /** How many records are under `key` (all of them without one). */
  count(key?: ListKey): number {
    return key === undefined ? this.all.size : (this.by.get(key)?.size ?? 0);
  }

  private remove(key: ListKey, record: ListedRecord): void {
    const index = this.by.get(key);
    if (!index) return;
    index.delete(record);
    if (index.size === 0) this.by.delete(key);
  }
}
