// The newest events in memory, oldest first, at most `capacity` of them: what the file journal
// answers most reads from (live streams and recent resumes) without touching the disk.
import type { LifecycleEvent } from '../../schemas/events.js';

/** Freed slots are compacted away once this many have piled up (and they are half the array). */
const COMPACT_AFTER = 1024;

export class EventWindow {
  private items: Array<LifecycleEvent | undefined> = [];
  private head = 0;

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.items.length - this.head;
  }

  /** The seq of the oldest event held, or undefined when empty. */
  firstSeq(): number | undefined {
    return this.items[this.head]?.seq;
  }

  /** Adds the newest event (seq above every one held); the oldest goes when over capacity. */
  push(event: LifecycleEvent): void {
    this.items.push(event);
    if (this.size > this.capacity) {
      // Drop the reference now, so the event can be collected before the next compaction.
      this.items[this.head] = undefined;
      this.head++;
    }
    if (this.head >= COMPACT_AFTER && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  /** Held events with seq > `after`, oldest first, at most `limit`. */
  after(after: number, limit: number): LifecycleEvent[] {
    let lo = this.head;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.items[mid] as LifecycleEvent).seq > after) hi = mid;
      else lo = mid + 1;
    }
    return this.items.slice(lo, Math.min(this.items.length, lo + Math.max(0, limit))) as LifecycleEvent[];
  }
}
