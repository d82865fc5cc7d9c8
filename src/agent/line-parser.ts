// Incremental stream-json parsing: stdout bytes in, one fact per complete line out (where it
// is, how to serve it, its type, and the parsed object the summary folds). It reads each byte
// once and never needs what came before: it can start at any line start (a checkpoint). A line
// up to 1 MiB is parsed whole; a longer one goes through the streaming scanner and is never
// held, so a 50 MB tool result costs kilobytes.
import { isUtf8 } from 'node:buffer';
import { JsonObjectScanner } from './json-scanner.js';

/** Lines up to this size are kept whole and parsed with JSON.parse. */
export const INLINE_MAX = 1024 * 1024;

/** How a message is served from the log. */
export const enum Kind {
  /** Not a JSON object: served as the line, a JSON string. */
  Text = 0,
  /** A JSON object in valid UTF-8: served as its exact bytes. */
  Json = 1,
  /** A JSON object with invalid UTF-8 in it (small lines only): parsed and served re-serialised. */
  JsonReencoded = 2,
}

export interface LineFact {
  offset: number;
  /** Bytes of the line without its end (`\n`, or `\r\n`). */
  length: number;
  /** Bytes of the line end: 1, 2, or 0 for a last line without one. */
  term: number;
  kind: Kind;
  type: string;
  subtype: string | null;
  /** The parsed object (for a huge line: the members the scanner kept), or null for a text line. */
  message: Record<string, unknown> | null;
}

/** The top-level members the summary reads; a huge line keeps only these. */
const SUMMARY_KEYS = new Set(['type', 'subtype', 'session_id', 'model', 'num_turns', 'total_cost_usd', 'usage', 'duration_ms', 'is_error', 'result']);
/** Raw bytes kept of one member of a huge line: room for a 64 KiB result even if every character were escaped. */
const SCAN_KEEP_BYTES = 6 * 64 * 1024 + 16;
/** A type or subtype the index keeps by name; anything else is `unknown` (type) or null (subtype). */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}$/;

const nameOf = (value: unknown): string | null => (typeof value === 'string' && NAME.test(value) ? value : null);
const isPlainObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

function fact(offset: number, length: number, term: number, kind: Kind, message: Record<string, unknown> | null): LineFact {
  if (message === null || kind === Kind.Text) return { offset, length, term, kind: Kind.Text, type: 'text', subtype: null, message: null };
  return { offset, length, term, kind, type: nameOf(message.type) ?? 'unknown', subtype: nameOf(message.subtype), message };
}

/** A complete line of at most INLINE_MAX bytes (its end already removed). */
export function parseSmallLine(offset: number, line: Buffer, term: number): LineFact {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line.toString('utf8'));
  } catch {
    return fact(offset, line.length, term, Kind.Text, null);
  }
  if (!isPlainObject(parsed)) return fact(offset, line.length, term, Kind.Text, null);
  return fact(offset, line.length, term, isUtf8(line) ? Kind.Json : Kind.JsonReencoded, parsed);
}

export class LineParser {
  /** Where the line being read begins. */
  private start: number;
  /** Bytes read so far. */
  private end: number;
  /** The line so far, while it is small enough to keep. */
  private parts: Buffer[] = [];
  private size = 0;
  /** Once the line outgrew INLINE_MAX: its scanner (the bytes are no longer kept). */
  private scanner: JsonObjectScanner | null = null;
  private lastByte = -1;

  constructor(offset: number) {
    this.start = offset;
    this.end = offset;
  }

  /** Where the first line not yet complete begins: parsing can start again there. */
  get lineStart(): number {
    return this.start;
  }

  /** The next byte expected. */
  get offset(): number {
    return this.end;
  }

  /** The bytes that follow what was pushed before; answers the lines they complete. */
  push(chunk: Buffer): LineFact[] {
    const out: LineFact[] = [];
    let from = 0;
    for (;;) {
      const newline = chunk.indexOf(0x0a, from);
      if (newline === -1) {
        this.add(chunk.subarray(from));
        break;
      }
      this.add(chunk.subarray(from, newline));
      out.push(this.complete(1));
      from = newline + 1;
    }
    this.end += chunk.length;
    return out;
  }

  /** Nothing more will be written: the last line, if it has no newline, is complete now. */
  flush(): LineFact | null {
    if (this.size === 0) return null;
    return this.complete(0);
  }

  private add(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.lastByte = bytes[bytes.length - 1] as number;
    this.size += bytes.length;
    if (this.scanner) {
      this.scanner.push(bytes);
      return;
    }
    if (this.size <= INLINE_MAX) {
      // A copy: the chunk's buffer must not stay alive for one short line's sake.
      this.parts.push(Buffer.from(bytes));
      return;
    }
    this.scanner = new JsonObjectScanner(SUMMARY_KEYS, SCAN_KEEP_BYTES);
    for (const part of this.parts) this.scanner.push(part);
    this.parts = [];
    this.scanner.push(bytes);
  }

  /** The line is complete; `newline` is 1 when a `\n` ended it (not yet counted in `size`). */
  private complete(newline: number): LineFact {
    const offset = this.start;
    // A `\r` before the `\n` belongs to the line end, not to the message.
    const cr = newline === 1 && this.lastByte === 0x0d ? 1 : 0;
    const length = this.size - cr;
    const term = newline + cr;
    let result: LineFact;
    if (this.scanner) {
      // The `\r` went through the scanner too, where it is whitespace after the object.
      const scan = this.scanner.finish();
      result = fact(offset, length, term, scan.object ? Kind.Json : Kind.Text, scan.object ? scan.fields : null);
    } else {
      const line = Buffer.concat(this.parts, this.size);
      result = parseSmallLine(offset, line.subarray(0, length), term);
    }
    this.start = offset + length + term;
    this.parts = [];
    this.size = 0;
    this.scanner = null;
    this.lastByte = -1;
    return result;
  }
}
