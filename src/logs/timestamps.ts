// Times of log lines: `since=` parsed into a time, a line's time from the log index (the time of
// its first byte; bytes the index has not noted yet are being written now), and the raw-bytes
// prefixer behind `timestamps=true` (docker logs -t: the RFC 3339 UTC time and one space).
import type { LogStreamName, SessionStore } from '../store/store.js';
import { SessionError } from '../sessions/errors.js';
import { IndexCursor } from './time-index.js';

/** How long a log's mtime stands for "when its unnoted bytes were written". */
const MTIME_FRESH_MS = 50;

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `since` (already matched against SINCE_PATTERN) as ms since the epoch; validation_failed for a date that does not exist. */
export function parseSince(value: string, now: number): number {
  const duration = /^(?:[0-9]+(?:ms|s|m|h))+$/.exec(value);
  if (duration) {
    let ms = 0;
    for (const [, n, unit] of value.matchAll(/([0-9]+)(ms|s|m|h)/g)) ms += Number(n) * (UNITS[unit as string] ?? 0);
    return now - ms;
  }
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new SessionError('validation_failed', `since ${value} is not a valid time`);
  return t;
}

export function formatTime(t: number): string {
  return new Date(t).toISOString();
}

/** Times of one stream's bytes, asked in growing offsets (bounded memory: a cursor, not the index). */
export class LineClock {
  private readonly cursor: IndexCursor;
  private mtime: { value: number; at: number } | null = null;

  constructor(
    private readonly store: SessionStore,
    private readonly id: string,
    private readonly stream: LogStreamName,
  ) {
    this.cursor = new IndexCursor(store, id);
  }

  async timeOf(offset: number): Promise<number> {
    const entry = await this.cursor.entryFor(this.stream, offset);
    if (entry) return entry.t;
    // Not noted (yet, or ever: a log older than the index): the byte was written at or before
    // the log's last change, and a byte being written now makes that "now".
    const now = Date.now();
    if (!this.mtime || now - this.mtime.at > MTIME_FRESH_MS) {
      const stat = await this.store.logStat(this.id, this.stream).catch(() => null);
      this.mtime = { value: stat?.mtime?.getTime() ?? now, at: now };
    }
    return Math.floor(this.mtime.value);
  }
}

/** Inserts `<time> ` before every line of a raw byte stream (lines end with `\n`); bytes stay as they are. */
export class LinePrefixer {
  private readonly clock: LineClock;

  constructor(
    store: SessionStore,
    id: string,
    stream: LogStreamName,
    /** The offset of the next byte pushed. */
    private offset: number,
    private atLineStart = true,
  ) {
    this.clock = new LineClock(store, id, stream);
  }

  async push(chunk: Buffer): Promise<Buffer> {
    const parts: Buffer[] = [];
    let from = 0;
    while (from < chunk.length) {
      if (this.atLineStart) {
        parts.push(Buffer.from(`${formatTime(await this.clock.timeOf(this.offset + from))} `));
        this.atLineStart = false;
      }
      const nl = chunk.indexOf(0x0a, from);
      const to = nl === -1 ? chunk.length : nl + 1;
      parts.push(chunk.subarray(from, to));
      if (nl !== -1) this.atLineStart = true;
      from = to;
    }
    this.offset += chunk.length;
    return Buffer.concat(parts);
  }
}
