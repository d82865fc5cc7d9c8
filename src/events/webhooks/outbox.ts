// One endpoint's outbox: the events still to deliver to it, in seq order, with each one's retry
// state, kept in `outbox.jsonl` as an append-only log of operations (enqueue, retry, done), each
// fsynced before it counts. Start-up replays the log; a crash loses nothing that was resolved
// (a torn last line was never resolved). The log is rewritten with only what is pending once
// finished rows outnumber the pending ones, and it remembers the highest seq ever enqueued, so
// re-reading the journal after a crash never enqueues an event twice.
import { Value } from '@sinclair/typebox/value';
import type { LifecycleEvent } from '../../../schemas/events.js';
import { OutboxLineSchema, type OutboxLine } from '../../../schemas/webhooks.js';
import { JsonLinesFile, readJsonLines } from './jsonl-file.js';

export interface PendingDelivery {
  seq: number;
  event: LifecycleEvent;
  /** Attempts made so far (0: never tried). */
  attempts: number;
  firstAttemptAt: string | null;
  /** Not before this time (null: as soon as it is at the head). */
  nextAttemptAt: string | null;
}

interface OutboxLog {
  warn(obj: object, msg: string): void;
}

/** Rewrite once this many more lines than pending rows are in the file. */
const COMPACT_SLACK = 64;

export class Outbox {
  private readonly pending = new Map<number, PendingDelivery>();
  private through = 0;
  private lines = 0;
  /** A write failed half-way, or the file was found torn: rewrite it before the next append. */
  private needsRewrite = false;
  private closed = false;

  private constructor(private readonly file: JsonLinesFile) {}

  /** Loads `path` (absent: empty), repairing a torn tail. */
  static async open(path: string, log: OutboxLog): Promise<Outbox> {
    const outbox = new Outbox(new JsonLinesFile(path, { durable: true }));
    const { values, clean } = await readJsonLines(path);
    let rejected = 0;
    for (const value of values) {
      if (Value.Check(OutboxLineSchema, value)) outbox.apply(value);
      else rejected += 1;
    }
    outbox.lines = values.length;
    if (!clean || rejected > 0) {
      log.warn({ file: path, rejected, torn: !clean }, 'webhook outbox had damaged lines (a crash mid-write): kept every whole one');
      outbox.needsRewrite = true;
    }
    return outbox;
  }

  /** The highest seq ever enqueued here. */
  get enqueuedThrough(): number {
    return this.through;
  }

  get size(): number {
    return this.pending.size;
  }

  /** The oldest pending delivery: the only one the dispatcher works on (order per endpoint). */
  head(): PendingDelivery | undefined {
    return this.pending.values().next().value;
  }

  /** Appends `event` durably; false when it was enqueued before (a re-read after a crash) or the outbox is closed. */
  async enqueue(event: LifecycleEvent): Promise<boolean> {
    if (this.closed || event.seq <= this.through) return false;
    const row: PendingDelivery = { seq: event.seq, event, attempts: 0, firstAttemptAt: null, nextAttemptAt: null };
    await this.write({ op: 'enqueue', seq: row.seq, event, attempts: 0, first_attempt_at: null, next_attempt_at: null });
    this.through = Math.max(this.through, event.seq);
    this.pending.set(row.seq, row);
    return true;
  }

  /** Records a failed attempt and when to try again. */
  async retry(seq: number, attempts: number, firstAttemptAt: string, nextAttemptAt: string): Promise<void> {
    if (this.closed || !this.pending.has(seq)) return;
    await this.write({ op: 'retry', seq, attempts, first_attempt_at: firstAttemptAt, next_attempt_at: nextAttemptAt });
    const row = this.pending.get(seq);
    if (row) Object.assign(row, { attempts, firstAttemptAt, nextAttemptAt });
  }

  /** Removes a delivery that succeeded or was given up. */
  async done(seq: number): Promise<void> {
    if (this.closed || !this.pending.has(seq)) return;
    await this.write({ op: 'done', seq });
    this.pending.delete(seq);
    if (this.lines > 2 * this.pending.size + COMPACT_SLACK) await this.rewrite();
  }

  /** Waits for writes under way; later calls change nothing. */
  async close(): Promise<void> {
    this.closed = true;
    await this.file.close();
  }

  private apply(line: OutboxLine): void {
    switch (line.op) {
      case 'base':
        this.through = Math.max(this.through, line.enqueued_through);
        break;
      case 'enqueue':
        this.through = Math.max(this.through, line.seq);
        this.pending.set(line.seq, {
          seq: line.seq,
          event: line.event,
          attempts: line.attempts,
          firstAttemptAt: line.first_attempt_at,
          nextAttemptAt: line.next_attempt_at,
        });
        break;
      case 'retry': {
        const row = this.pending.get(line.seq);
        if (row) Object.assign(row, { attempts: line.attempts, firstAttemptAt: line.first_attempt_at, nextAttemptAt: line.next_attempt_at });
        break;
      }
      case 'done':
        this.pending.delete(line.seq);
        break;
    }
  }

  private async write(line: OutboxLine): Promise<void> {
    if (this.needsRewrite) await this.rewrite();
    try {
      await this.file.append([line]);
      this.lines += 1;
    } catch (err) {
      // Part of the line may be in the file: the next write starts with a clean rewrite.
      this.needsRewrite = true;
      throw err;
    }
  }

  /** The file replaced by its meaning: the base line, then each pending row with its state. */
  private async rewrite(): Promise<void> {
    const lines: OutboxLine[] = [{ op: 'base', enqueued_through: this.through }];
    for (const row of this.pending.values()) {
      lines.push({
        op: 'enqueue',
        seq: row.seq,
        event: row.event,
        attempts: row.attempts,
        first_attempt_at: row.firstAttemptAt,
        next_attempt_at: row.nextAttemptAt,
      });
    }
    await this.file.replace(lines);
    this.lines = lines.length;
    this.needsRewrite = false;
  }
}
