// The log index (`logs.idx`): per chunk of output the service saw land, when (ms) and in which
// stream, in the order seen across both streams. Compact and append-only: an entry is two
// varints, the time since the previous entry and the stream's growth (zigzag, so a log shrunk
// from outside is noted too) times two plus the stream bit: 2 to 4 bytes for a typical chunk.
import type { LogStreamName, SessionStore } from '../store/store.js';

export interface IndexEntry {
  /** Place in the order of both streams (0, 1, 2...). */
  seq: number;
  /** When the chunk was seen, ms since the epoch. */
  t: number;
  stream: LogStreamName;
  /** The stream's size before the entry (equal to `start` unless the log shrank). */
  before: number;
  /** Where the chunk's bytes start and end in the stream. */
  start: number;
  end: number;
}

/** What the decoder carries from one entry to the next. */
export interface IndexState {
  t: number;
  ends: Record<LogStreamName, number>;
  count: number;
}

export function emptyIndexState(): IndexState {
  return { t: 0, ends: { stdout: 0, stderr: 0 }, count: 0 };
}

function pushVarint(out: number[], value: number): void {
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

/** The entry saying `stream` has `size` bytes at time `t`; advances `state`. */
export function encodeEntry(state: IndexState, t: number, stream: LogStreamName, size: number): Buffer {
  // Times never go back in the index: a clock stepped back reads as "at the same time".
  const time = Math.max(t, state.t);
  const delta = size - state.ends[stream];
  const zigzag = delta >= 0 ? delta * 2 : -delta * 2 - 1;
  const out: number[] = [];
  pushVarint(out, time - state.t);
  pushVarint(out, zigzag * 2 + (stream === 'stderr' ? 1 : 0));
  state.t = time;
  state.ends[stream] = size;
  state.count += 1;
  return Buffer.from(out);
}

/** Decodes whole entries from `buf`; returns them and how many bytes they took (a torn tail stays). */
export function decodeEntries(state: IndexState, buf: Buffer): { entries: IndexEntry[]; used: number } {
  const entries: IndexEntry[] = [];
  let pos = 0;
  const varint = (at: number): [number, number] | null => {
    let value = 0;
    let scale = 1;
    for (let i = at; i < buf.length && i < at + 8; i++) {
      const byte = buf[i] as number;
      value += (byte & 0x7f) * scale;
      scale *= 0x80;
      if (byte < 0x80) return [value, i + 1];
    }
    return null;
  };
  for (;;) {
    const a = varint(pos);
    if (!a) break;
    const b = varint(a[1]);
    if (!b) break;
    pos = b[1];
    const stream: LogStreamName = b[0] % 2 === 1 ? 'stderr' : 'stdout';
    const zigzag = Math.floor(b[0] / 2);
    const delta = zigzag % 2 === 0 ? zigzag / 2 : -(zigzag + 1) / 2;
    const start = state.ends[stream];
    state.t += a[0];
    state.ends[stream] = Math.max(0, start + delta);
    entries.push({ seq: state.count, t: state.t, stream, before: start, start: delta < 0 ? state.ends[stream] : start, end: state.ends[stream] });
    state.count += 1;
  }
  return { entries, used: pos };
}

/** Index bytes read at once: a few hundred entries, so a reader (two per SSE client) holds little. */
const READ_STEP = 512;

/**
 * Reads one session's index forward, a few KiB at a time (bounded memory however long the
 * index): a reader asks about offsets that only grow, so it never needs to go back.
 */
export class IndexCursor {
  private readonly state = emptyIndexState();
  private filePos = 0;
  private batch: IndexEntry[] = [];
  private at = 0;

  constructor(
    private readonly store: SessionStore,
    private readonly id: string,
  ) {}

  /** The next entry (not consumed), or null when the index has no more yet. */
  async peek(): Promise<IndexEntry | null> {
    if (this.at < this.batch.length) return this.batch[this.at] as IndexEntry;
    const buf = await this.store.readLogIndex(this.id, this.filePos, this.filePos + READ_STEP);
    if (buf.length === 0) return null;
    const { entries, used } = decodeEntries(this.state, buf);
    this.filePos += used;
    this.batch = entries;
    this.at = 0;
    return entries[0] ?? null;
  }

  next(): void {
    this.at += 1;
  }

  /**
   * The first entry of `stream` still holding bytes at or after `offset` (skipping all before
   * it, of both streams), or null when the index has not noted that byte yet.
   */
  async entryFor(stream: LogStreamName, offset: number): Promise<IndexEntry | null> {
    for (;;) {
      const entry = await this.peek();
      if (!entry) return null;
      if (entry.stream === stream && entry.end > offset) return entry;
      this.next();
    }
  }

  /** The first entry (of either stream) seen at or after `t`, or null. */
  async firstAtOrAfter(t: number): Promise<IndexEntry | null> {
    for (;;) {
      const entry = await this.peek();
      if (!entry || entry.t >= t) return entry;
      this.next();
    }
  }

  /** Where each stream stood before the entry `peek` returns (or at the end of the index). */
  get ends(): Record<LogStreamName, number> {
    // The batch was decoded ahead: walk back from the decoder's state over what is not consumed.
    const ends = { ...this.state.ends };
    for (let i = this.batch.length - 1; i >= this.at; i--) {
      const entry = this.batch[i] as IndexEntry;
      ends[entry.stream] = entry.before;
    }
    return ends;
  }
}

/** Each stream's offset of the first byte seen at or after `t` (its size when there is none yet). */
export async function offsetsSince(store: SessionStore, id: string, t: number): Promise<Record<LogStreamName, number>> {
  const cursor = new IndexCursor(store, id);
  await cursor.firstAtOrAfter(t);
  const ends = cursor.ends;
  const out = { ...ends };
  const found: Record<LogStreamName, boolean> = { stdout: false, stderr: false };
  // The stream not in that entry starts at its own first entry at or after t, which may come later.
  for (;;) {
    const entry = await cursor.peek();
    if (!entry || (found.stdout && found.stderr)) break;
    if (!found[entry.stream]) {
      found[entry.stream] = true;
      out[entry.stream] = entry.start;
    }
    cursor.next();
  }
  for (const stream of ['stdout', 'stderr'] as const) {
    // Never noted after t: what the index knows of it is all before t; anything beyond is newer.
    if (!found[stream]) out[stream] = cursor.ends[stream];
  }
  return out;
}
