// LogFollower: one reader's position in one log, read through the store (never by path), in
// bounded chunks, through a reader that keeps the log open (close the follower when done). It
// knows nothing of HTTP; SSE and raw follow both read through it. A log the store refuses to read
// (replaced by a link...) throws log_unavailable and the stream ends.
// Bytes the cap dropped (retained.ts) are never given out: a read is checked against the window
// AFTER it is made, so one that raced a punch is thrown away rather than served as zeros.
import { guardLogRead } from '../sessions/session-logs.js';
import type { LogReader, LogStreamName, SessionStore } from '../store/store.js';
import { retainedWindows, type RetainedWindows } from './retained.js';

export type FollowRead =
  | { kind: 'data'; chunk: Buffer }
  /** The log is shorter than our position: someone truncated it. Reading goes on from `size`. */
  | { kind: 'truncated'; size: number }
  /** The cap dropped the bytes at our position: reading goes on from `from`, the window's start. */
  | { kind: 'dropped'; from: number; size: number }
  | { kind: 'idle' };

interface Attempt {
  read: FollowRead;
  /** The position after it. */
  offset: number;
  /** The log's size it saw. */
  size: number;
}

/** Size of a pooled buffer: the largest chunk SSE asks for. */
const POOLED_BUFFER = 256 * 1024;
/** Pooled reads under way at once in the whole service (the disk serves a few at a time anyway). */
const POOL_SLOTS = 16;

/**
 * The read buffers of all followers: at most POOL_SLOTS lent at once (a reader waits for one),
 * kept for the next reader. Memory for reads stays the same however many follow.
 */
class BufferPool {
  private readonly free: Buffer[] = [];
  private readonly waiting: Array<() => void> = [];
  private lent = 0;

  async acquire(): Promise<Buffer> {
    while (this.lent >= POOL_SLOTS) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.lent++;
    return this.free.pop() ?? Buffer.allocUnsafe(POOLED_BUFFER);
  }

  release(buffer: Buffer): void {
    this.lent--;
    this.free.push(buffer);
    this.waiting.shift()?.();
  }
}
const pool = new BufferPool();

export class LogFollower {
  private readonly windows: RetainedWindows;
  private readonly reader: LogReader;
  /** The pool's buffer the last chunk is a view of, until released. */
  private lent: Buffer | null = null;
  /** The log's size when last measured (-1: not yet). */
  lastSize = -1;
  /** A read found nothing new since: what comes next was written just now (a fresh read). */
  private caughtUp = false;
  /**
   * The last read reached the end of the log as it was then (it came short, or found nothing).
   * A live follower need not read again at once: whatever is written after it wakes it anyway.
   */
  atEnd = false;

  constructor(
    private readonly store: SessionStore,
    readonly sessionId: string,
    readonly stream: LogStreamName,
    /** The next byte to read. */
    public offset: number,
  ) {
    this.windows = retainedWindows(store);
    this.reader = store.openLogReader(sessionId, stream);
  }

  /** The first byte the cap has kept (0 while nothing was dropped). */
  retainedFrom(): Promise<number> {
    return this.windows.from(this.sessionId, this.stream);
  }

  async size(): Promise<number> {
    this.lastSize = await guardLogRead(() => this.reader.size());
    return this.lastSize;
  }

  /**
   * At most `maxBytes` from the current position; never holds more than that in memory. With
   * `reuse`, the chunk is a view of a buffer lent by the service-wide pool: call `release()` as
   * soon as it has been used (the next read releases it too). Lent buffers are few, so a
   * thousand followers replaying at once hold a few of them, not one each.
   */
  async read(maxBytes: number, reuse = false): Promise<FollowRead> {
    this.release();
    let into: Buffer | undefined;
    if (reuse && maxBytes <= POOLED_BUFFER) {
      into = await pool.acquire();
      this.lent = into;
    }
    const attempt = await this.attempt(this.offset, maxBytes, into);
    this.offset = attempt.offset;
    this.atEnd = attempt.read.kind === 'idle' || (attempt.read.kind === 'data' && attempt.read.chunk.length < maxBytes);
    if (attempt.read.kind !== 'data') this.release();
    return attempt.read;
  }

  /** Gives the buffer of the last chunk back to the pool (the chunk must not be used after). */
  release(): void {
    if (this.lent) pool.release(this.lent);
    this.lent = null;
  }

  /** Done following: the buffer goes back to the pool and the log is let go. */
  close(): void {
    this.release();
    this.reader.close();
  }

  /** One read at `offset`, without moving the position: what `read` answers, and where it leaves it. */
  private async attempt(offset: number, maxBytes: number, into: Buffer | undefined): Promise<Attempt> {
    // A replay far from the end need not measure the log before each chunk: a whole chunk proves
    // it is still there (a short one falls back to measuring, which also notices a truncation).
    const far = this.lastSize - offset >= maxBytes;
    if (far) {
      const chunk = await this.readLog(offset, offset + maxBytes, into);
      if (chunk.length === maxBytes && offset >= (await this.retainedFrom())) {
        return { read: { kind: 'data', chunk }, offset: offset + maxBytes, size: this.lastSize };
      }
    }
    // At or near the end (following live): the fresh bytes are read first, one read away from the
    // wake-up that announced them; the log is measured only when nothing came (truncated? idle?).
    // A replay whose whole chunk came short is measured at once, not read a second time.
    if (this.lastSize >= 0 && !far) {
      const chunk = await this.readLog(offset, offset + maxBytes, into, this.caughtUp);
      if (chunk.length > 0) {
        // Checked after the read, as below: bytes punched meanwhile read as zeros, never as data.
        const after = await this.retainedFrom();
        if (offset < after) {
          const size = await this.size();
          return { read: { kind: 'dropped', from: after, size }, offset: after, size };
        }
        this.lastSize = Math.max(this.lastSize, offset + chunk.length);
        return { read: { kind: 'data', chunk }, offset: offset + chunk.length, size: this.lastSize };
      }
    }
    const size = await this.size();
    this.caughtUp = size <= offset;
    if (size < offset) return { read: { kind: 'truncated', size }, offset: size, size };
    if (size === offset) return { read: { kind: 'idle' }, offset, size };
    const before = await this.retainedFrom();
    if (offset < before && before <= size) return { read: { kind: 'dropped', from: before, size }, offset: before, size };
    const end = Math.min(size, offset + maxBytes);
    const chunk = await this.readLog(offset, end, into);
    // Checked after the read: a window moved meanwhile may have punched what was just read.
    const after = await this.retainedFrom();
    if (offset < after) return { read: { kind: 'dropped', from: after, size }, offset: after, size };
    if (chunk.length === 0) return { read: { kind: 'idle' }, offset, size };
    return { read: { kind: 'data', chunk }, offset: offset + chunk.length, size };
  }

  /** The byte just before the position (to know whether we resume right after a `\r`). */
  async previousByte(): Promise<number | null> {
    if (this.offset === 0) return null;
    const byte = await this.readLog(this.offset - 1, this.offset);
    // A dropped byte is unknown, not a zero (the window starts at a line start anyway).
    if (this.offset - 1 < (await this.retainedFrom())) return null;
    return byte.length === 1 ? (byte[0] ?? null) : null;
  }

  /**
   * Moves a tail start forward to the beginning of the next line inside the window, so a tail
   * does not open with half a line. Stays put when the window holds no line end.
   */
  async alignToLineStart(windowEnd: number): Promise<void> {
    // Before the retained window: its start is a line start (the cap cuts after a line end).
    const retained = await this.retainedFrom();
    if (this.offset <= retained) {
      this.offset = Math.max(this.offset, retained);
      return;
    }
    if (windowEnd <= this.offset) return;
    const window = await this.readLog(this.offset - 1, windowEnd);
    // Read across a punch: start at the window, a line start.
    if (this.offset - 1 < (await this.retainedFrom())) {
      this.offset = await this.retainedFrom();
      return;
    }
    for (let i = 0; i < window.length; i++) {
      const byte = window[i];
      if (byte === 0x0a || (byte === 0x0d && window[i + 1] !== 0x0a)) {
        this.offset = this.offset - 1 + i + 1;
        return;
      }
    }
  }

  private readLog(start: number, end: number, into?: Buffer, fresh = false): Promise<Buffer> {
    return guardLogRead(() => this.reader.read(start, end, into, fresh));
  }
}
