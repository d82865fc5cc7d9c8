// The EventJournal port: the append-only record of every lifecycle event. The supervisor appends;
// /v1/events, the webhook outbox and metrics read. Implementations: the file journal (default) and
// the memory journal in test/fakes; one contract suite runs against both.
import type { EventType, LifecycleEvent } from '../../schemas/events.js';
import type { Session } from '../../schemas/session.js';

export type { EventType, LifecycleEvent };

export interface EventJournal {
  /** Called once before the first append: loads what is kept, so seq goes on from the last one. */
  init(): Promise<void>;
  /**
   * Appends one event with the next seq and the current time. Resolves once the event is durable
   * (a crash after this never loses it), then tells every subscriber, in seq order.
   */
  append(type: EventType, session: Session): Promise<LifecycleEvent>;
  /** Retained events with seq > `after`, oldest first, at most `limit` of them. */
  readAfter(after: number, limit: number): Promise<LifecycleEvent[]>;
  /** The seq of the oldest retained event, or lastSeq() + 1 when none is retained. */
  oldestSeq(): number;
  /** The seq of the newest event ever appended (0 before the first). */
  lastSeq(): number;
  /** Calls `listener` with every event appended from now on, in order. Returns the unsubscribe. */
  subscribe(listener: (event: LifecycleEvent) => void): () => void;
  /** Called once at shutdown: flushes and releases files and timers. */
  close(): Promise<void>;
}
