// LogFollower: one reader's position in one log, read through the store (never by path), in
// bounded chunks. It knows nothing of HTTP; SSE and raw follow both read through it. A log the
// store refuses to read (replaced by a link...) throws log_unavailable and the stream ends.
import { guardLogRead } from '../sessions/session-logs.js';
import type { LogStreamName, SessionStore } from '../store/store.js';

export type FollowRead =
  | { kind: 'data'; chunk: Buffer }
  /** The log is shorter than our position: someone truncated it. Reading goes on from `size`. */
  | { kind: 'truncated'; size: number }
  | { kind: 'idle' };

export class LogFollower {
  constructor(
    private readonly store: SessionStore,
    readonly sessionId: string,
    readonly stream: LogStreamName,
    /** The next byte to read. */
    public offset: number,
  ) {}

  async size(): Promise<number> {
    return (await guardLogRead(() => this.store.logStat(this.sessionId, this.stream))).size;
  }

  /** At most `maxBytes` from the current position; never holds more than that in memory. */
  async read(maxBytes: number): Promise<FollowRead> {
    const size = await this.size();
    if (size < this.offset) {
      this.offset = size;
      return { kind: 'truncated', size };
    }
    if (size === this.offset) return { kind: 'idle' };
    const chunk = await this.readLog(this.offset, Math.min(size, this.offset + maxBytes));
    if (chunk.length === 0) return { kind: 'idle' };
    this.offset += chunk.length;
    return { kind: 'data', chunk };
  }

  /** The byte just before the position (to know whether we resume right after a `\r`). */
  async previousByte(): Promise<number | null> {
    if (this.offset === 0) return null;
    const byte = await this.readLog(this.offset - 1, this.offset);
    return byte.length === 1 ? (byte[0] ?? null) : null;
  }

  /**
   * Moves a tail start forward to the beginning of the next line inside the window, so a tail
   * does not open with half a line. Stays put when the window holds no line end.
   */
  async alignToLineStart(windowEnd: number): Promise<void> {
    if (this.offset === 0 || windowEnd <= this.offset) return;
    const window = await this.readLog(this.offset - 1, windowEnd);
    for (let i = 0; i < window.length; i++) {
      const byte = window[i];
      if (byte === 0x0a || (byte === 0x0d && window[i + 1] !== 0x0a)) {
        this.offset = this.offset - 1 + i + 1;
        return;
      }
    }
  }

  private readLog(start: number, end: number): Promise<Buffer> {
    return guardLogRead(() => this.store.readLog(this.sessionId, this.stream, start, end));
  }
}
