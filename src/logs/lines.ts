// Splits a byte stream into lines: `\n`, `\r\n` and a lone `\r` each end a line. Works on bytes,
// so a UTF-8 character split across two reads is joined before it is decoded.
import { completeLength } from '../sessions/utf8.js';

const LF = 0x0a;
const CR = 0x0d;

export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingLength = 0;
  /** The last byte seen was a `\r`: a `\n` right after it belongs to the same line end. */
  private afterCR = false;

  /** Bytes read but not yet given out as part of a line (the partial last line). */
  get pendingBytes(): number {
    return this.pendingLength;
  }

  /** Tells the splitter that the byte before the first one it will see was `\r` (resuming mid-stream). */
  resumeAfterCR(): void {
    this.afterCR = true;
  }

  /**
   * After `push`: for each line it returned, where in the chunk the line after it starts (so a
   * caller can tell each line's first byte, for its time).
   */
  nextStarts: number[] = [];

  /** Feeds bytes; returns the lines they complete, decoded, without their terminators. */
  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    this.nextStarts = [];
    let start = 0;
    if (this.afterCR && chunk.length > 0) {
      this.afterCR = false;
      if (chunk[0] === LF) start = 1;
    }
    let i = start;
    // The next LF and CR at or after i, each searched again only once i has passed it: searching
    // from every line start would rescan the chunk for a `\r` that is not there (quadratic).
    let lf = -2;
    let cr = -2;
    while (i < chunk.length) {
      if (lf !== -1 && lf < i) lf = chunk.indexOf(LF, i);
      if (cr !== -1 && cr < i) cr = chunk.indexOf(CR, i);
      const end = lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr);
      if (end === -1) break;
      lines.push(this.take(chunk.subarray(start, end)));
      if (chunk[end] === CR) {
        if (end + 1 < chunk.length) {
          i = chunk[end + 1] === LF ? end + 2 : end + 1;
        } else {
          this.afterCR = true;
          i = end + 1;
        }
      } else {
        i = end + 1;
      }
      this.nextStarts.push(i);
      start = i;
    }
    if (start < chunk.length) {
      // Copied: a subarray would keep the whole read buffer alive while the line waits.
      this.pending.push(Buffer.from(chunk.subarray(start)));
      this.pendingLength += chunk.length - start;
    }
    return lines;
  }

  /**
   * Feeds bytes; returns the lines they complete as ONE run of bytes, each line end (`\n`,
   * `\r\n` or a lone `\r`) still in it except the last one's, or null when no line was
   * completed. The same lines `push` gives (split at their line ends), found with one search per
   * chunk rather than decoded line by line: what a replay of many short lines needs. The answer
   * may be a view of `chunk`: use it before the chunk's buffer is reused.
   */
  pushRegion(chunk: Buffer): Buffer | null {
    this.nextStarts = [];
    let start = 0;
    if (this.afterCR && chunk.length > 0) {
      this.afterCR = false;
      if (chunk[0] === LF) start = 1;
    }
    const end = Math.max(chunk.lastIndexOf(LF), chunk.lastIndexOf(CR));
    if (end < start) {
      if (start < chunk.length) {
        this.pending.push(Buffer.from(chunk.subarray(start)));
        this.pendingLength += chunk.length - start;
      }
      return null;
    }
    // The last line end: `\r\n` counts as one; a `\r` at the very end may be followed by `\n`.
    let cut = end;
    if (chunk[end] === LF && end > start && chunk[end - 1] === CR) cut = end - 1;
    if (chunk[end] === CR && end === chunk.length - 1) this.afterCR = true;
    const body = chunk.subarray(start, cut);
    const region = this.pendingLength === 0 ? body : Buffer.concat([...this.pending, body]);
    this.pending = [];
    this.pendingLength = 0;
    if (end + 1 < chunk.length) {
      this.pending.push(Buffer.from(chunk.subarray(end + 1)));
      this.pendingLength = chunk.length - end - 1;
    }
    return region;
  }

  /**
   * The partial line so far, up to its last complete UTF-8 character, or null when there is
   * none. What is given out counts as sent; an unfinished character stays for later, unless
   * `final` (no more bytes will ever come): then it is given out too, decoded as U+FFFD.
   */
  flushPartial(final = false): string | null {
    if (this.pendingLength === 0) return null;
    const bytes = Buffer.concat(this.pending, this.pendingLength);
    const cut = final ? bytes.length : completeLength(bytes);
    if (cut === 0) return null;
    const rest = bytes.subarray(cut);
    this.pending = rest.length > 0 ? [Buffer.from(rest)] : [];
    this.pendingLength = rest.length;
    return bytes.subarray(0, cut).toString('utf8');
  }

  /** Forgets everything (after a truncation, what was pending is gone from the file). */
  reset(): void {
    this.pending = [];
    this.pendingLength = 0;
    this.afterCR = false;
  }

  private take(tail: Buffer): string {
    if (this.pendingLength === 0) return tail.toString('utf8');
    const line = Buffer.concat([...this.pending, tail]).toString('utf8');
    this.pending = [];
    this.pendingLength = 0;
    return line;
  }
}
