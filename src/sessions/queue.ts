// The queue of sessions waiting for capacity: highest priority first, then in arrival order.
// Kept in memory in that order (an insert is a binary search); rebuilt at start-up from the
// records whose status is `queued`, so it survives a restart.
import type { SessionRecord } from '../../schemas/session.js';

interface Entry {
  id: string;
  priority: number;
  /** When it was queued (ms), then its id: a total order, the same after a restart. */
  at: number;
}

/** Negative when `a` goes before `b`. */
function order(a: Entry, b: Entry): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  if (a.at !== b.at) return a.at - b.at;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export class SessionQueue {
  private readonly entries: Entry[] = [];

  get size(): number {
    return this.entries.length;
  }

  add(record: Pick<SessionRecord, 'id' | 'priority' | 'queued_at'>): void {
    this.remove(record.id);
    const entry: Entry = { id: record.id, priority: record.priority, at: Date.parse(record.queued_at ?? '') || 0 };
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (order(this.entries[mid] as Entry, entry) <= 0) lo = mid + 1;
      else hi = mid;
    }
    this.entries.splice(lo, 0, entry);
  }

  remove(id: string): boolean {
    const at = this.entries.findIndex((e) => e.id === id);
    if (at < 0) return false;
    this.entries.splice(at, 1);
    return true;
  }

  /** The id that gets the next free place, without taking it. */
  peek(): string | undefined {
    return this.entries[0]?.id;
  }

  /** Ids in the order they will start. */
  ids(): string[] {
    return this.entries.map((e) => e.id);
  }
}
