// LogFollower: one reader's position in one log, read through the store (never by path), in
// bounded chunks. It knows nothing of HTTP; SSE and raw follow both read through it. A log the
// store refuses to read (replaced by a link...) throws log_unavailable and the stream ends.
// Bytes the cap dropped (retained.ts) are never given out: a read is checked against the window
// AFTER it is made, so one that raced a punch is thrown away rather than served as zeros.
import { guardLogRead } from '../sessions/session-logs.js';
import type { LogStreamName, SessionStore } from '../store/store.js';
import { retainedWindows, type RetainedWindows } from './retained.js';

export type FollowRead =
  | { kind: 'data'; chunk: Buffer }
  /** The log is shorter than our position: someone truncated it. Reading goes on from `size`. */
  | { kind: 'truncated'; size: number }
  /** The cap dropped the bytes at our position: reading goes on from `from`, the window's start. */
  | { kind: 'dropped'; from: number; size: number }
  | { kind: 'idle' };

export class LogFollower {
  private readonly windows: RetainedWindows;
  /** A buffer reused by every read (the chunk handed out is a view of it, valid until the next read). */
  private buffer: Buffer | null = null;

  constructor(
    private readonly store: SessionStore,
    readonly sessionId: string,
    readonly stream: LogStreamName,
    /** The next byte to read. */
    public offset: number,
  ) {
    this.windows = retainedWindows(store);
  }

  /** The first byte the cap has kept (0 while nothing was dropped). */
  retainedFrom(): Promise<number> {
    return this.windows.from(this.sessionId, this.stream);
  }

  async size(): Promise<number> {
    return (await guardLogRead(() => this.store.logStat(this.sessionId, this.stream))).size;
  }

  /**
   * At most `maxBytes` from the current position; never holds more than that in memory. With
   * `reuse`, the chunk is a view of a buffer the next read overwrites (the caller is done with
   * it by then).
   */
  async read(maxBytes: number, reuse = false): Promise<FollowRead> {
    const size = await this.size();
    if (size < this.offset) {
      this.offset = size;
      return { kind: 'truncated', size };
    }
    if (size === this.offset) return { kind: 'idle' };
    const before = await this.retainedFrom();
    if (this.offset < before && before <= size) return this.skipTo(before, size);
    const end = Math.min(size, this.offset + maxBytes);
    let into: Buffer | undefined;
    if (reuse) {
      if (!this.buffer || this.buffer.length < end - this.offset) this.buffer = Buffer.allocUnsafe(Math.max(end - this.offset, 16 * 1024));
      into = this.buffer;
    }
    const chunk = await this.readLog(this.offset, end, into);
    // Checked after the read: a window moved meanwhile may have punched what was just read.
    const after = await this.retainedFrom();
    if (this.offset < after) return this.skipTo(after, size);
    if (chunk.length === 0) return { kind: 'idle' };
    this.offset += chunk.length;
    return { kind: 'data', chunk };
  }

  private skipTo(from: number, size: number): FollowRead {
    this.offset = Math.max(this.offset, from);
    return { kind: 'dropped', from: this.offset, size };
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

  private readLog(start: number, end: number, into?: Buffer): Promise<Buffer> {
    return guardLogRead(() => this.store.readLog(this.sessionId, this.stream, start, end, into));
  }
}
