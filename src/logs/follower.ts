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

interface Attempt {
  read: FollowRead;
  /** The position after it. */
  offset: number;
  /** The log's size it saw. */
  size: number;
}

/** Size of a reused buffer: the largest chunk SSE asks for. */
const REUSED_BUFFER = 64 * 1024;

export class LogFollower {
  private readonly windows: RetainedWindows;
  /** The two buffers reads with `reuse` take turns in. */
  private buffers: Buffer[] = [];
  /** The next chunk, being read ahead. */
  private ahead: { offset: number; max: number; promise: Promise<Attempt | null> } | null = null;

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
   * At most `maxBytes` from the current position; never holds more than that in memory (two
   * chunks with `reuse`). With `reuse`, the chunk is a view of one of two buffers, valid until
   * the next read returns: while the caller works on a chunk, the next one is read ahead into
   * the other buffer, so a replay does not wait for the disk between chunks.
   */
  async read(maxBytes: number, reuse = false): Promise<FollowRead> {
    const ahead = this.ahead;
    this.ahead = null;
    let attempt: Attempt | null = null;
    if (ahead) {
      // Awaited even when not used: its buffer is not free before it is done.
      const early = await ahead.promise;
      if (early && ahead.offset === this.offset && ahead.max === maxBytes && early.read.kind === 'data') attempt = early;
    }
    attempt ??= await this.attempt(this.offset, maxBytes, reuse ? this.spare(0) : undefined);
    this.offset = attempt.offset;
    if (reuse && attempt.read.kind === 'data' && attempt.size > this.offset) {
      const offset = this.offset;
      // The buffer the caller does not hold now; an error here is met again by the real read.
      const into = this.spare(attempt.read.chunk.buffer === this.buffers[0]?.buffer ? 1 : 0);
      this.ahead = { offset, max: maxBytes, promise: this.attempt(offset, maxBytes, into).catch(() => null) };
    } else if (attempt.read.kind !== 'data') {
      // Caught up: a follower waiting for new bytes keeps no buffers.
      this.buffers = [];
    }
    return attempt.read;
  }

  /** One read at `offset`, without moving the position: what `read` would answer, and where it leaves it. */
  private async attempt(offset: number, maxBytes: number, into: Buffer | undefined): Promise<Attempt> {
    const size = await this.size();
    if (size < offset) return { read: { kind: 'truncated', size }, offset: size, size };
    if (size === offset) return { read: { kind: 'idle' }, offset, size };
    const before = await this.retainedFrom();
    if (offset < before && before <= size) return { read: { kind: 'dropped', from: before, size }, offset: before, size };
    const end = Math.min(size, offset + maxBytes);
    const chunk = await this.readLog(offset, end, into && into.length >= end - offset ? into : undefined);
    // Checked after the read: a window moved meanwhile may have punched what was just read.
    const after = await this.retainedFrom();
    if (offset < after) return { read: { kind: 'dropped', from: after, size }, offset: after, size };
    if (chunk.length === 0) return { read: { kind: 'idle' }, offset, size };
    return { read: { kind: 'data', chunk }, offset: offset + chunk.length, size };
  }

  /** Reused buffer `i` (0 or 1), made on first use. */
  private spare(i: 0 | 1): Buffer {
    let buffer = this.buffers[i];
    if (!buffer) {
      buffer = Buffer.allocUnsafe(REUSED_BUFFER);
      this.buffers[i] = buffer;
    }
    return buffer;
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
