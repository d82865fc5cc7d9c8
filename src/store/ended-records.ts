// Ended sessions are kept in the store's index without their arguments: a prompt is often the
// largest part of a record, and 10,000 ended sessions' prompts would sit in memory for nothing
// (a list page shows 50, a GET one). Their whole records are read back from disk when asked for;
// the last few read stay at hand, bounded by the characters of their arguments.
import { isTerminalStatus, type SessionRecord } from '../../schemas/session.js';
import type { ListedRecord } from './store.js';

/** Characters of arguments kept in whole records read back (a few MiB at most). */
export const WHOLE_RECORDS_MAX_CHARS = 2 * 1024 * 1024;

/**
 * A completion of more records than this is a walk through the store (automation paging through
 * everything), not a page someone looks at again: its records are read back but not kept, so a
 * walk neither pushes the pages people refresh out nor leaves each record it read to be promoted
 * to the old generation and collected there (a walk of 10,000 left 20-30 MiB of RSS behind).
 */
export const KEPT_COMPLETION_MAX = 100;

/** The record carries its arguments (a live session's, or one completed). */
export function isWhole(record: ListedRecord): record is SessionRecord {
  return Array.isArray((record as Partial<SessionRecord>).args);
}

/** What the index keeps of a (frozen) record: an ended session's without its arguments, frozen. */
export function listedOf(record: SessionRecord): ListedRecord {
  if (!isTerminalStatus(record.status)) return record;
  const { args: _args, ...listed } = record;
  return Object.freeze(listed);
}

interface Kept {
  listed: ListedRecord;
  whole: SessionRecord;
  chars: number;
  /** Used since it was last passed over for eviction (a second chance). */
  used: boolean;
}

/**
 * The whole records of ended sessions read back lately; past the bound, the oldest not used since
 * the last eviction goes out first (CLOCK, second chance). A hit only sets a flag: moving the entry
 * to the map's end on every hit (delete and set) made the map rebuild its table every few pages,
 * tens of MiB of garbage a minute that lived long enough to grow the old generation.
 */
export class WholeRecords {
  private readonly kept = new Map<string, Kept>();
  private chars = 0;

  constructor(
    /** The session's arguments as its record on disk says, or undefined when it is gone. */
    private readonly readArgs: (id: string) => string[] | undefined,
    private readonly maxChars = WHOLE_RECORDS_MAX_CHARS,
  ) {}

  /**
   * The whole record of `listed` (undefined: deleted meanwhile). The same object while it is kept;
   * one read back is kept unless `keep` is false.
   */
  of(listed: ListedRecord, keep = true): SessionRecord | undefined {
    if (isWhole(listed)) return listed;
    const hit = this.kept.get(listed.id);
    if (hit && hit.listed === listed) {
      hit.used = true;
      return hit.whole;
    }
    const args = this.readArgs(listed.id);
    if (args === undefined) return undefined;
    const whole = Object.freeze({ ...listed, args: Object.freeze(args) as string[] });
    if (keep) this.remember(listed, whole);
    return whole;
  }

  /** A record just written: its whole form is at hand for the next read (an ended session's GET). */
  remember(listed: ListedRecord, whole: SessionRecord): void {
    this.forget(listed.id);
    if (isWhole(listed)) return;
    const chars = whole.args.reduce((sum, arg) => sum + arg.length, 0);
    if (chars > this.maxChars) return;
    this.kept.set(listed.id, { listed, whole, chars, used: false });
    this.chars += chars;
    // Oldest first; one used since it was last passed over goes to the end instead, once.
    for (const [id, entry] of this.kept) {
      if (this.chars <= this.maxChars) break;
      this.kept.delete(id);
      if (entry.used) {
        entry.used = false;
        this.kept.set(id, entry);
      } else {
        this.chars -= entry.chars;
      }
    }
  }

  forget(id: string): void {
    const entry = this.kept.get(id);
    if (!entry) return;
    this.kept.delete(id);
    this.chars -= entry.chars;
  }

  /** Whole records kept (tests). */
  get size(): number {
    return this.kept.size;
  }
}
