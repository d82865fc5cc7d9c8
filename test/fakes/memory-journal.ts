// In-memory EventJournal for tests: the file journal's semantics (seq order, retention by count)
// without a disk. `reopen()` starts a new instance that goes on from the same seq, as a restart would.
import type { EventJournal, EventType, LifecycleEvent } from '../../src/events/journal.js';
import type { Session } from '../../schemas/session.js';

export interface MemoryJournalOptions {
  /** Keep at most this many events (the oldest go first). Default: all. */
  retainCount?: number;
  clock?: () => Date;
}

export class MemoryJournal implements EventJournal {
  private events: LifecycleEvent[] = [];
  private last = 0;
  private closed = false;
  private readonly listeners = new Set<(event: LifecycleEvent) => void>();

  constructor(private readonly options: MemoryJournalOptions = {}) {}

  async init(): Promise<void> {}

  async append(type: EventType, session: Session): Promise<LifecycleEvent> {
    if (this.closed) throw new Error('event journal is closed');
    const event: LifecycleEvent = {
      seq: ++this.last,
      type,
      time: (this.options.clock?.() ?? new Date()).toISOString(),
      session: structuredClone(session),
    };
    this.events.push(event);
    const keep = this.options.retainCount;
    if (keep !== undefined && this.events.length > keep) this.events = this.events.slice(-keep);
    // As the file journal does: one failing subscriber neither fails the append nor starves the others.
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch {
        // swallowed on purpose: the contract says a subscriber's fault is the subscriber's
      }
    }
    return event;
  }

  async readAfter(after: number, limit: number): Promise<LifecycleEvent[]> {
    if (limit <= 0) return [];
    return this.events.filter((e) => e.seq > after).slice(0, limit);
  }

  oldestSeq(): number {
    return this.events[0]?.seq ?? this.last + 1;
  }

  lastSeq(): number {
    return this.last;
  }

  subscribe(listener: (event: LifecycleEvent) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
  }

  /** A new journal over what this one kept, as the service would find it after a restart. */
  reopen(options: MemoryJournalOptions = this.options): MemoryJournal {
    const next = new MemoryJournal(options);
    next.events = [...this.events];
    next.last = this.last;
    return next;
  }

  /** Test helper: every retained event (a copy). */
  all(): LifecycleEvent[] {
    return [...this.events];
  }
}
