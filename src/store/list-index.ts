// The listing order kept sorted: a page is a binary search to its cursor and a walk that stops
// after the page, never a sort of every record per request. Newest started_at first, the id
// breaking ties (the v1 order); kept oldest-first inside, so a new session is an append.
import type { SessionRecord } from '../../schemas/session.js';

/** Where a record stands in a listing (what a cursor carries). */
export type ListPosition = Pick<SessionRecord, 'started_at' | 'id'>;

/** Negative when `a` comes before `b` in a listing (newest first). */
export function newestFirst(a: ListPosition, b: ListPosition): number {
  if (a.started_at !== b.started_at) return a.started_at < b.started_at ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

export class ListIndex {
  /** Oldest first: the reverse of the listing, so the common insert (a new session) appends. */
  private entries: SessionRecord[] = [];

  get size(): number {
    return this.entries.length;
  }

  /** Replaces the whole index (a store's init): one sort, not one insert per record. */
  rebuild(records: Iterable<SessionRecord>): void {
    this.entries = Array.from(records).sort((a, b) => newestFirst(b, a));
  }

  /** Adds `record`, or replaces `previous` (the same id's record as indexed until now). */
  set(record: SessionRecord, previous?: ListPosition): void {
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
  *newestFirst(after?: ListPosition): Generator<SessionRecord, void, undefined> {
    for (let i = (after ? this.lowerBound(after) : this.entries.length) - 1; i >= 0; i--) {
      yield this.entries[i] as SessionRecord;
    }
  }

  /** The first index whose entry is not older (in listing terms: not after) than `position`. */
  private lowerBound(position: ListPosition): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (newestFirst(this.entries[mid] as SessionRecord, position) > 0) lo = mid + 1;
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
