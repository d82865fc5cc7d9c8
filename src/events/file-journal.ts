// The file journal: lifecycle events as append-only JSONL segments under <dataDir>/events/, one
// file per `segmentEvents` events, named by the seq of their first event. Appends are
// group-committed (everything queued while a write is under way goes out in one write and one
// fdatasync), so a burst of starts does not pay one disk flush each. The newest `retainCount`
// events stay in memory; older retained ones are read back from disk. Retention drops whole
// segments once they hold neither the last `retainCount` events nor any of the last `retainMs`.
import fs, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Session } from '../../schemas/session.js';
import { EventWindow } from './event-window.js';
import type { EventJournal, EventType, LifecycleEvent } from './journal.js';
import { lastEventIn, parseSegment } from './journal-lines.js';

export const DEFAULT_RETAIN_COUNT = 10_000;
export const DEFAULT_RETAIN_MS = 24 * 60 * 60 * 1000;
export const DEFAULT_SEGMENT_EVENTS = 1000;

/** `0000000000000001.jsonl`: 16 digits hold every safe integer, and sort as numbers do. */
const SEGMENT_NAME = /^(\d{16})\.jsonl$/;
const segmentName = (first: number) => `${String(first).padStart(16, '0')}.jsonl`;
/** How much of an old segment's end is read at start-up to find its last event. */
const TAIL_BYTES = 64 * 1024;
/** Parsed segments kept for readers that are catching up (a few MB each at most). */
const RECENT_SEGMENTS = 2;

export interface JournalLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface FileJournalOptions {
  dataDir: string;
  log: JournalLog;
  clock?: () => Date;
  /** Keep at least this many of the newest events (and hold them in memory). Default 10,000. */
  retainCount?: number;
  /** Keep at least the events of this long ago. Default 24 h. */
  retainMs?: number;
  /** Events per segment file (retention drops whole segments). Default 1000. */
  segmentEvents?: number;
}

export interface FileJournalStats {
  /** Disk commits (one write + one fdatasync each) since the journal was opened. */
  commits: number;
  /** Segment files kept. */
  segments: number;
  /** Events held in memory. */
  inMemory: number;
}

export interface FileJournal extends EventJournal {
  stats(): FileJournalStats;
}

interface Segment {
  /** The seq its name says it starts at. */
  first: number;
  /** The seq of its last good event (`first - 1` while it has none). */
  last: number;
  /** Good events in it (known exactly only for the open segment; retention does not need it elsewhere). */
  count: number;
  /** When its last event happened (ms since the epoch; 0 when unknown). */
  lastTime: number;
  file: string;
  /** Bytes in it (the open segment's rollback point). */
  size: number;
  /** Takes no more appends (full, or its end is in doubt after a failed write). */
  sealed: boolean;
}

interface Pending {
  event: LifecycleEvent;
  line: string;
  resolve: (event: LifecycleEvent) => void;
  reject: (err: Error) => void;
}

const isENOENT = (err: unknown) => (err as NodeJS.ErrnoException | null)?.code === 'ENOENT';

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`file journal: ${name} must be a positive integer, got ${value}`);
  return value;
}

export function createFileJournal(options: FileJournalOptions): FileJournal {
  const dir = path.join(options.dataDir, 'events');
  const log = options.log;
  const clock = options.clock ?? (() => new Date());
  const retainCount = positiveInteger('retainCount', options.retainCount ?? DEFAULT_RETAIN_COUNT);
  const retainMs = options.retainMs ?? DEFAULT_RETAIN_MS;
  if (!Number.isFinite(retainMs) || retainMs < 0) throw new Error(`file journal: retainMs must be >= 0, got ${retainMs}`);
  const segmentEvents = positiveInteger('segmentEvents', options.segmentEvents ?? DEFAULT_SEGMENT_EVENTS);

  /** Oldest first; the last one takes appends unless sealed. */
  let segments: Segment[] = [];
  const window = new EventWindow(retainCount);
  const listeners = new Set<(event: LifecycleEvent) => void>();
  /** The last seq handed out (a failed commit burns its seqs: seq never goes back). */
  let assigned = 0;
  /** The last seq that is durable and published. */
  let durable = 0;
  let handle: FileHandle | null = null;
  let queue: Pending[] = [];
  let flushing: Promise<void> | null = null;
  let state: 'new' | 'opening' | 'open' | 'closing' | 'closed' = 'new';
  let commits = 0;
  /** The last segments read from disk: readers catching up read one segment a batch at a time. */
  const recent = new Map<string, { size: number; events: LifecycleEvent[] }>();
  /** Damaged segments already reported, so a reader that passes them again does not flood the log. */
  const reported = new Set<string>();

  function reportDamage(file: string, badLines: number): void {
    if (badLines === 0 || reported.has(file)) return;
    reported.add(file);
    log.warn({ file, badLines }, 'event journal: skipped damaged lines in a segment');
  }

  async function init(): Promise<void> {
    if (state !== 'new') throw new Error('file journal: init() called twice');
    state = 'opening';
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    // mkdir leaves an existing folder's mode alone: events name sessions, so only we may read them.
    await fs.chmod(dir, 0o700);
    // Zero-padded names sort as their numbers do; seq starts at 1, so a name of 0 is not ours.
    const names = (await fs.readdir(dir)).filter((name) => SEGMENT_NAME.test(name) && Number(name.slice(0, 16)) >= 1).sort();
    segments = names.map((name) => {
      const first = Number(name.slice(0, 16));
      return { first, last: first - 1, count: 0, lastTime: 0, file: path.join(dir, name), size: 0, sealed: true };
    });

    // Newest first: read whole segments until the window is full, then only the ends of the older ones.
    const loaded: LifecycleEvent[][] = [];
    let inMemory = 0;
    for (let i = segments.length - 1; i >= 0; i--) {
      const segment = segments[i] as Segment;
      const newest = i === segments.length - 1;
      if (newest || inMemory < retainCount) {
        const bytes = await fs.readFile(segment.file);
        const parsed = parseSegment(bytes);
        reportDamage(segment.file, parsed.badLines);
        segment.size = bytes.length;
        if (newest && parsed.goodEnd < bytes.length) {
          // A crash cut the last write short (or left zeros): those appends were never
          // acknowledged, so they are cut away and the next append goes on from a clean line.
          log.warn({ file: segment.file, bytes: bytes.length - parsed.goodEnd }, 'event journal: removed a torn end after a crash');
          await fs.truncate(segment.file, parsed.goodEnd);
          segment.size = parsed.goodEnd;
        }
        describe(segment, parsed.events);
        segment.count = parsed.events.length;
        loaded.unshift(parsed.events);
        inMemory += parsed.events.length;
      } else {
        await describeFromTail(segment, segments[i + 1]);
      }
    }
    for (const events of loaded) for (const event of events) window.push(event);

    const newest = segments.at(-1);
    if (newest) {
      // seq goes on past anything a segment's name promised, even when its events are lost.
      durable = segments.reduce((max, segment) => Math.max(max, segment.last), newest.first - 1);
      if (newest.count === 0 && newest.size === 0) {
        // Nothing good was ever in it (a crash right after it was made): it goes.
        await fs.unlink(newest.file);
        segments.pop();
      } else {
        newest.sealed = newest.count >= segmentEvents;
      }
    }
    assigned = durable;
    state = 'open';
  }

  function describe(segment: Segment, events: LifecycleEvent[]): void {
    const last = events.at(-1);
    if (last) {
      segment.last = last.seq;
      segment.lastTime = Date.parse(last.time);
    }
  }

  async function describeFromTail(segment: Segment, next: Segment | undefined): Promise<void> {
    const fh = await fs.open(segment.file, 'r');
    try {
      const { size } = await fh.stat();
      segment.size = size;
      let from = Math.max(0, size - TAIL_BYTES);
      let found: LifecycleEvent | null = null;
      for (;;) {
        const tail = Buffer.alloc(size - from);
        await fh.read(tail, 0, tail.length, from);
        found = lastEventIn(tail, from === 0);
        if (found || from === 0) break;
        from = 0;
      }
      if (found) {
        segment.last = found.seq;
        segment.lastTime = Date.parse(found.time);
      } else {
        // Nothing readable: it holds at most the seqs up to the next segment, all from long ago.
        segment.last = (next?.first ?? segment.first) - 1;
        log.warn({ file: segment.file }, 'event journal: a segment holds no readable event');
      }
    } finally {
      await fh.close();
    }
  }

  function append(type: EventType, session: Session): Promise<LifecycleEvent> {
    if (state !== 'open') return Promise.reject(new Error(`event journal is ${state === 'new' ? 'not initialised' : 'closed'}`));
    const event: LifecycleEvent = { seq: ++assigned, type, time: clock().toISOString(), session: structuredClone(session) };
    const line = `${JSON.stringify(event)}\n`;
    return new Promise((resolve, reject) => {
      queue.push({ event, line, resolve, reject });
      flushing ??= flush();
    });
  }

  async function flush(): Promise<void> {
    try {
      // Appends made in this same tick join the first commit.
      await null;
      while (queue.length > 0) {
        const batch = queue;
        queue = [];
        await commit(batch);
        await retain();
      }
    } finally {
      flushing = null;
    }
  }

  async function commit(batch: Pending[]): Promise<void> {
    let done = 0;
    try {
      while (done < batch.length) {
        const segment = await openSegment((batch[done] as Pending).event.seq);
        const part = batch.slice(done, done + (segmentEvents - segment.count));
        const bytes = Buffer.from(part.map((pending) => pending.line).join(''), 'utf8');
        try {
          await writeAll(handle as FileHandle, bytes);
          await (handle as FileHandle).datasync();
        } catch (err) {
          await rollback(segment);
          throw err;
        }
        commits++;
        segment.size += bytes.length;
        segment.count += part.length;
        segment.sealed = segment.count >= segmentEvents;
        describe(segment, part.map((pending) => pending.event));
        publish(part);
        done += part.length;
      }
    } catch (err) {
      log.error({ err, events: batch.length - done }, 'event journal: an append failed; its events are not recorded');
      for (const pending of batch.slice(done)) pending.reject(err as Error);
    }
  }

  /** Durable now: readable, then told to subscribers in seq order, then acknowledged. */
  function publish(part: Pending[]): void {
    for (const { event } of part) {
      window.push(event);
      durable = event.seq;
      for (const listener of [...listeners]) {
        try {
          listener(event);
        } catch (err) {
          log.error({ err, seq: event.seq }, 'event journal: a subscriber failed');
        }
      }
    }
    for (const pending of part) pending.resolve(pending.event);
  }

  /** The segment the next append goes to: the open one, or a new one named `firstSeq`. */
  async function openSegment(firstSeq: number): Promise<Segment> {
    const current = segments.at(-1);
    if (current && !current.sealed) {
      handle ??= await fs.open(current.file, 'a', 0o600);
      return current;
    }
    if (handle) {
      const old = handle;
      handle = null;
      await old.close();
    }
    const segment: Segment = {
      first: firstSeq,
      last: firstSeq - 1,
      count: 0,
      lastTime: 0,
      file: path.join(dir, segmentName(firstSeq)),
      size: 0,
      sealed: false,
    };
    handle = await fs.open(segment.file, 'a', 0o600);
    segment.size = (await handle.stat()).size;
    // The new file's name must survive a crash as well as its lines.
    const dirHandle = await fs.open(dir, 'r');
    try {
      await dirHandle.sync();
    } finally {
      await dirHandle.close();
    }
    segments.push(segment);
    return segment;
  }

  /** A failed write or flush leaves the file's end in doubt: cut it back, or stop writing to it. */
  async function rollback(segment: Segment): Promise<void> {
    try {
      await (handle as FileHandle).truncate(segment.size);
    } catch (err) {
      log.error({ err, file: segment.file }, 'event journal: could not cut back a failed write; the next append opens a new segment');
      segment.sealed = true;
      const old = handle;
      handle = null;
      await old?.close().catch(() => undefined); // already failing; the error above is the one that matters
    }
  }

  async function retain(): Promise<void> {
    const keepFrom = window.firstSeq() ?? Number.POSITIVE_INFINITY;
    const cutoff = clock().getTime() - retainMs;
    const doomed: Segment[] = [];
    // The open segment always stays; an old one goes when it holds none of the last retainCount
    // events (all of those are in the window) and none of the last retainMs.
    while (segments.length > 1) {
      const oldest = segments[0] as Segment;
      if (oldest.last >= keepFrom || oldest.lastTime > cutoff) break;
      doomed.push(oldest);
      segments = segments.slice(1);
    }
    for (const segment of doomed) {
      recent.delete(segment.file);
      try {
        await fs.unlink(segment.file);
      } catch (err) {
        if (!isENOENT(err)) log.error({ err, file: segment.file }, 'event journal: could not remove an old segment');
      }
    }
  }

  async function readSegment(segment: Segment): Promise<LifecycleEvent[]> {
    const cached = recent.get(segment.file);
    if (cached && cached.size === segment.size) return cached.events;
    let bytes: Buffer;
    try {
      bytes = await fs.readFile(segment.file);
    } catch (err) {
      // Removed by retention while we were about to read it: its events are simply no longer kept.
      if (isENOENT(err)) return [];
      throw err;
    }
    const parsed = parseSegment(bytes);
    reportDamage(segment.file, parsed.badLines);
    recent.delete(segment.file);
    recent.set(segment.file, { size: bytes.length, events: parsed.events });
    if (recent.size > RECENT_SEGMENTS) recent.delete(recent.keys().next().value as string);
    return parsed.events;
  }

  /** The first kept segment whose last event is after `seq`. */
  function segmentAfter(list: Segment[], seq: number): Segment | undefined {
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((list[mid] as Segment).last > seq) hi = mid;
      else lo = mid + 1;
    }
    return list[lo];
  }

  async function readAfter(after: number, limit: number): Promise<LifecycleEvent[]> {
    const out: LifecycleEvent[] = [];
    let cursor = after;
    while (out.length < limit) {
      const inMemoryFrom = window.firstSeq();
      if (inMemoryFrom === undefined) break;
      if (cursor >= inMemoryFrom - 1) {
        out.push(...window.after(cursor, limit - out.length));
        break;
      }
      // Older than the window: from the segment that holds the next seq.
      const segment = segmentAfter(segments, cursor);
      if (!segment) break;
      for (const event of await readSegment(segment)) {
        if (event.seq <= cursor) continue;
        if (out.length >= limit) break;
        out.push(event);
        cursor = event.seq;
      }
      // What is left of it is damaged or gone; the window (or the next segment) follows.
      if (out.length < limit) cursor = Math.max(cursor, segment.last);
    }
    return out;
  }

  async function close(): Promise<void> {
    if (state === 'closed' || state === 'closing') return;
    state = 'closing';
    while (flushing) await flushing;
    const old = handle;
    handle = null;
    await old?.close();
    listeners.clear();
    state = 'closed';
  }

  return {
    init,
    append,
    readAfter,
    oldestSeq: () => segments[0]?.first ?? durable + 1,
    lastSeq: () => durable,
    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    close,
    stats: () => ({ commits, segments: segments.length, inMemory: window.size }),
  };
}

async function writeAll(handle: FileHandle, bytes: Buffer): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
    offset += bytesWritten;
  }
}
