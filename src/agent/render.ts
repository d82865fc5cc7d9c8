// Messages as JSON text, read from the log by the offsets the index keeps: a JSON message is
// its line's exact bytes (never parsed and re-serialised, never held whole when it is large),
// a text line is a JSON string. Small lines are read a window at a time, so a page of 500
// messages costs a few reads; a large one is streamed in chunks.
import { StringDecoder } from 'node:string_decoder';
import type { Readable } from 'node:stream';
import { guardLogRead } from '../sessions/session-logs.js';
import type { SessionStore } from '../store/store.js';
import { retainedWindows, type RetainedWindows } from '../logs/retained.js';
import type { IndexEntry } from './index-records.js';
import { INLINE_MAX, Kind } from './line-parser.js';

/** Bytes read at once for small lines (a window covers many consecutive messages). */
const WINDOW = 1024 * 1024;

/** Reads lines of one session's stdout by offset; never a byte the log cap dropped (retained.ts). */
export class LineReader {
  private window: Buffer = Buffer.alloc(0);
  private windowStart = 0;
  /** The window's bytes from here on were read before any punch reached them: real bytes. */
  private windowValidFrom = 0;
  private readonly windows: RetainedWindows;

  constructor(
    private readonly store: SessionStore,
    private readonly id: string,
  ) {
    this.windows = retainedWindows(store);
  }

  /** True when the log cap has dropped the line at `offset` (such messages are left out). */
  async dropped(offset: number): Promise<boolean> {
    return offset < (await this.windows.from(this.id, 'stdout'));
  }

  /**
   * A line of at most INLINE_MAX bytes, or null when the cap dropped it while it was read.
   * Shorter than asked only if the log was cut meanwhile.
   */
  async small(offset: number, length: number): Promise<Buffer | null> {
    const end = offset + length;
    if (offset < this.windowStart || end > this.windowStart + this.window.length) {
      this.windowStart = offset;
      this.window = await guardLogRead(() => this.store.readLog(this.id, 'stdout', offset, offset + Math.max(length, WINDOW)));
      // Checked after the read: bytes below the window's start now may be a hole's zeros.
      this.windowValidFrom = await this.windows.from(this.id, 'stdout');
    }
    if (offset < this.windowValidFrom) return null;
    return this.window.subarray(offset - this.windowStart, end - this.windowStart);
  }

  /** A line of any size, in chunks. */
  async *chunks(offset: number, length: number): AsyncGenerator<Buffer> {
    const stream: Readable = await guardLogRead(() => this.store.openLogStream(this.id, 'stdout', offset, offset + length));
    let got = 0;
    try {
      for await (const chunk of stream) {
        if (offset < (await this.windows.from(this.id, 'stdout'))) throw new Error(`the stdout log cap dropped message bytes ${offset}..${offset + length} while they were read`);
        got += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
    } finally {
      stream.destroy();
    }
    // A JSON message cut short would make the whole answer invalid: better no answer.
    if (got < length) throw new Error(`the stdout log was cut while message bytes ${offset}..${offset + length} were read`);
  }
}

/** Carriage returns end an SSE line: inside JSON they can only be whitespace, so a space says the same. */
const forSse = (text: string) => (text.includes('\r') ? text.replace(/\r/g, ' ') : text);

/**
 * One message as JSON text, in pieces: `{n, offset, length, type, subtype, message}`. `sse`: no
 * carriage return in the output (it goes on one `data:` line).
 */
export async function* renderMessage(entry: IndexEntry, reader: LineReader, sse: boolean): AsyncGenerator<string> {
  yield `{"n":${entry.n},"offset":${entry.offset},"length":${entry.length},"type":${JSON.stringify(entry.type)},"subtype":${JSON.stringify(entry.subtype)},"message":`;
  if (entry.length <= INLINE_MAX) {
    const line = await reader.small(entry.offset, entry.length);
    yield renderSmall(entry, line, sse);
  } else {
    const decoder = new StringDecoder('utf8');
    if (entry.kind === Kind.Json) {
      for await (const chunk of reader.chunks(entry.offset, entry.length)) yield sse ? forSse(decoder.write(chunk)) : decoder.write(chunk);
      yield decoder.end();
    } else {
      yield '"';
      for await (const chunk of reader.chunks(entry.offset, entry.length)) yield JSON.stringify(decoder.write(chunk)).slice(1, -1);
      yield `${JSON.stringify(decoder.end()).slice(1, -1)}"`;
    }
  }
  yield '}';
}

function renderSmall(entry: IndexEntry, line: Buffer | null, sse: boolean): string {
  // Dropped by the log cap while it was read: no message rather than zeros.
  if (line === null) return 'null';
  const text = line.toString('utf8');
  if (line.length === entry.length && entry.kind === Kind.Json) return sse ? forSse(text) : text;
  if (line.length === entry.length && entry.kind === Kind.JsonReencoded) {
    try {
      return JSON.stringify(JSON.parse(text));
    } catch {
      // Not what was indexed any more (the log was cut and written again): the text as it is.
    }
  }
  return JSON.stringify(text);
}

/** A page of messages: `{items, next_after, has_more}`, in pieces. */
export async function* renderPage(entries: IndexEntry[], reader: LineReader, nextAfter: number, hasMore: boolean): AsyncGenerator<string> {
  yield '{"items":[';
  let first = true;
  for (const entry of entries) {
    // Lines the log cap dropped are left out: their bytes are gone.
    if (await reader.dropped(entry.offset)) continue;
    if (!first) yield ',';
    first = false;
    yield* renderMessage(entry, reader, false);
  }
  yield `],"next_after":${nextAfter},"has_more":${hasMore}}`;
}
