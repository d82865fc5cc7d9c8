// From the journal to the outboxes: every event after the cursor is appended (fsynced) to the
// outbox of each endpoint that wants it, then the cursor (`<dataDir>/webhooks/cursor.json`, the
// seq everything up to which is enqueued) moves past it. The journal's subscription only wakes
// the pump, which always reads the journal from the cursor: events appended while the service
// was down, or while a batch was being written, are read like any other. A crash between an
// outbox append and the cursor write re-reads a few events; the outbox skips seqs it already has.
// Registering an endpoint runs between two drains (exclusive()), so no event slips past it.
// The cursor is written after a batch that enqueued something (or fell far behind): events no
// endpoint wants cost no write (a start is two events, and most services have no endpoint), and
// re-reading them after a restart enqueues nothing either.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LifecycleEvent } from '../../../schemas/events.js';
import { labelsMatch } from '../../../schemas/labels.js';
import type { WebhookRecord } from '../../../schemas/webhooks.js';
import { errnoCode, writeFileAtomic } from '../../store/atomic-write.js';
import type { EventJournal } from '../journal.js';
import type { Outbox } from './outbox.js';

export const CURSOR_FILE = 'cursor.json';
const BATCH = 256;
const RETRY_AFTER_ERROR_MS = 1000;
/** Events the cursor on disk may lag behind while nothing is enqueued (re-read at a restart). */
const CURSOR_LAG_MAX = 1000;

/** Whether `record` wants `event`: created before it, of a wanted type, its session carrying every wanted label. */
export function endpointWants(record: WebhookRecord, event: LifecycleEvent): boolean {
  if (event.seq <= record.after_seq) return false;
  if (record.types && !record.types.includes(event.type)) return false;
  return labelsMatch(event.session?.labels, record.labels);
}

export interface EnqueueTarget {
  record: WebhookRecord;
  outbox: Outbox;
  /** Called after an event was added to the outbox. */
  wake(): void;
}

interface EnqueuerLog {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface EnqueuerOptions {
  journal: EventJournal;
  /** `<dataDir>/webhooks` */
  root: string;
  /** The endpoints now; read for every event, so a deleted one gets nothing more. */
  targets: () => Iterable<EnqueueTarget>;
  log: EnqueuerLog;
}

export class Enqueuer {
  private cursor = 0;
  /** The cursor as last written to disk. */
  private written = 0;
  /** Drains and exclusive sections run one at a time, in call order. */
  private chain: Promise<void> = Promise.resolve();
  /** A drain that is queued and not yet started: later pumps join it. */
  private queued: Promise<void> | null = null;
  private closed = false;
  private unsubscribe: (() => void) | null = null;
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: EnqueuerOptions) {}

  /** The seq through which every event is in the outboxes. */
  get enqueuedThrough(): number {
    return this.cursor;
  }

  /** Loads the cursor, subscribes, and enqueues what the journal holds after it. */
  async start(): Promise<void> {
    const saved = await this.readCursor();
    const { journal } = this.options;
    if (saved === null) {
      // No cursor yet: each endpoint starts after the event it was created at (or what its
      // outbox already holds); with no endpoint, nothing before now is anyone's.
      const starts = [...this.options.targets()].map((t) => Math.max(t.record.after_seq, t.outbox.enqueuedThrough));
      this.cursor = starts.length > 0 ? Math.min(...starts) : journal.lastSeq();
    } else if (saved > journal.lastSeq()) {
      this.options.log.warn({ cursor: saved, last_seq: journal.lastSeq() }, 'webhook cursor is ahead of the event journal (was the journal replaced?): following the journal from its end');
      this.cursor = journal.lastSeq();
    } else {
      this.cursor = saved;
    }
    this.written = saved ?? this.cursor;
    this.unsubscribe = journal.subscribe(() => this.pump());
    await this.pump();
  }

  /** Reads and enqueues everything after the cursor; resolves when caught up. */
  pump(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.queued ??= this.exclusive(async () => {
      this.queued = null;
      await this.drain();
    });
    return this.queued;
  }

  /**
   * Runs `task` while no event is being enqueued. Registering an endpoint inside it means every
   * event is either before its after_seq or read with the endpoint already among the targets.
   */
  exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.chain.then(task);
    this.chain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe?.();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.chain;
  }

  private async drain(): Promise<void> {
    const { journal, log } = this.options;
    try {
      while (!this.closed && this.cursor < journal.lastSeq()) {
        const oldest = journal.oldestSeq();
        if (this.cursor + 1 < oldest) {
          log.warn({ cursor: this.cursor, oldest_seq: oldest }, 'webhook events were dropped from the journal before they were enqueued: they are not delivered');
          this.cursor = oldest - 1;
        }
        const batch = await journal.readAfter(this.cursor, BATCH);
        if (batch.length === 0) break;
        let enqueued = false;
        for (const event of batch) {
          const wanting = [...this.options.targets()].filter((t) => endpointWants(t.record, event));
          if (wanting.length > 0) enqueued = true;
          await Promise.all(wanting.map((t) => this.enqueue(t, event)));
          this.cursor = event.seq;
        }
        if (enqueued || this.cursor - this.written >= CURSOR_LAG_MAX) await this.writeCursor();
      }
    } catch (err) {
      // An outbox or the cursor could not be written: nothing past the cursor is lost; try again.
      log.error({ err, cursor: this.cursor }, 'enqueuing webhook deliveries failed; retrying');
      if (!this.closed) this.retryTimer = setTimeout(() => void this.pump(), RETRY_AFTER_ERROR_MS);
    }
  }

  private async enqueue(target: EnqueueTarget, event: LifecycleEvent): Promise<void> {
    if (await target.outbox.enqueue(event)) target.wake();
  }

  private async readCursor(): Promise<number | null> {
    try {
      const value: unknown = JSON.parse(await readFile(join(this.options.root, CURSOR_FILE), 'utf8'));
      const through = (value as { enqueued_through?: unknown } | null)?.enqueued_through;
      if (Number.isSafeInteger(through) && (through as number) >= 0) return through as number;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return null;
      if (!(err instanceof SyntaxError)) throw err;
    }
    // Written atomically, so damage is someone else's doing; the outboxes' own seqs keep re-reads safe.
    this.options.log.warn({ file: CURSOR_FILE }, 'webhook cursor is damaged: re-reading the journal from each endpoint’s start');
    return null;
  }

  private async writeCursor(): Promise<void> {
    const through = this.cursor;
    await writeFileAtomic(join(this.options.root, CURSOR_FILE), JSON.stringify({ enqueued_through: through }), { mode: 0o600 });
    this.written = through;
  }
}
