// Reading session logs safely: the checks that a log's path still names the file the store made,
// and shared read handles, one open descriptor per log however many readers follow it. A live
// read is then one pread of the fresh bytes, not open + stat + read + close each time (what the
// latency of a followed log is made of), and 300 followers of one log hold one descriptor.
import { constants as fsConstants, lstatSync, readSync, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { errnoCode } from './atomic-write.js';
import { ioError, isMissing, StoreError } from './errors.js';
import type { LogReader, LogStreamName } from './store.js';

/**
 * Logs are read without following a link (the session runs as our user and could replace its log
 * by a link to any file we can read) and without blocking on a FIFO put in a log's place.
 */
export const LOG_READ_FLAGS = fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK;

/**
 * A log must be what `create` made: a regular file with one link (a hard link would be some other
 * file of ours), owned by the service's user. Anything else was put there by someone else.
 */
export function checkLogFile(s: Stats, id: string, stream: LogStreamName): void {
  if (s.isSymbolicLink()) throw unsafeLog(id, stream, 'a symbolic link');
  if (!s.isFile()) throw unsafeLog(id, stream, 'not a regular file');
  if (s.nlink !== 1) throw unsafeLog(id, stream, `a file with ${s.nlink} links`);
  const uid = process.geteuid?.();
  if (uid !== undefined && s.uid !== uid) throw unsafeLog(id, stream, `owned by uid ${s.uid}`);
}

/** StoreError `corrupt`: the log's path no longer names the file the store created; it is not read. */
export function unsafeLog(id: string, stream: LogStreamName, what: string): StoreError {
  return new StoreError('corrupt', `the ${stream} log of session ${id} is ${what}, not the file the service created; it is not read`);
}

/** The largest read of fresh bytes done on the spot rather than in the thread pool. */
const MAX_FRESH_READ = 256 * 1024;

/** A checked descriptor of a log, and which file it is. */
interface Held {
  fh: FileHandle;
  dev: number;
  ino: number;
}

/** One log's shared descriptor and the readers that use it. */
class SharedLog {
  readers = 0;
  /** The descriptor, once opened (null: the log did not exist when last tried). */
  private held: Promise<Held | null> | null = null;

  constructor(
    readonly file: string,
    readonly id: string,
    readonly stream: LogStreamName,
  ) {}

  /** The open descriptor, opened (and checked) on first use or after it was let go. */
  handle(): Promise<Held | null> {
    if (!this.held) {
      const opening = this.open();
      this.held = opening;
      // A missing log is tried again next time (it may be created by then).
      void opening.then(
        (held) => {
          if (held === null && this.held === opening) this.held = null;
        },
        () => {
          if (this.held === opening) this.held = null;
        },
      );
    }
    return this.held;
  }

  /** Lets go of the descriptor; reads under way finish first (FileHandle.close waits for them). */
  retire(): void {
    const held = this.held;
    this.held = null;
    void held?.then((h) => h?.fh.close()).catch(() => undefined);
  }

  /** The path must still name the file held; one replaced by another regular file is reopened. */
  async size(): Promise<number> {
    let s: Stats;
    try {
      // On the spot: a live follower measures its log after every chunk it catches up to, and a
      // thread pool round trip per chunk cost more than the lstat itself (a cached dentry).
      s = lstatSync(this.file);
    } catch (err) {
      if (isMissing(err)) {
        // Deleted: a missing log is empty, and the deleted file is not read on.
        this.retire();
        return 0;
      }
      throw ioError(err, `cannot stat the ${this.stream} log of session ${this.id}`);
    }
    checkLogFile(s, this.id, this.stream);
    const held = this.held ? await this.held.catch(() => null) : null;
    if (held && (held.dev !== s.dev || held.ino !== s.ino)) this.retire();
    return s.size;
  }

  async read(start: number, end: number, into?: Buffer, fresh = false): Promise<Buffer> {
    const from = Math.max(0, start);
    if (!(end > from)) return Buffer.alloc(0);
    for (let attempt = 0; ; attempt++) {
      const handle = this.handle();
      const held = await handle;
      if (!held) return Buffer.alloc(0);
      try {
        if (fresh && end - from <= MAX_FRESH_READ) return readFreshRange(held.fh, from, end, into);
        return await readRange(held.fh, from, end, into);
      } catch (err) {
        // Retired by another reader between our handle() and our read: once more, with the new one.
        if (attempt === 0 && this.held !== handle) continue;
        throw ioError(err, `cannot read the ${this.stream} log of session ${this.id}`);
      }
    }
  }

  private async open(): Promise<Held | null> {
    let fh: FileHandle;
    try {
      fh = await open(this.file, LOG_READ_FLAGS);
    } catch (err) {
      if (isMissing(err)) return null;
      if (errnoCode(err) === 'ELOOP') throw unsafeLog(this.id, this.stream, 'a symbolic link');
      throw ioError(err, `cannot open the ${this.stream} log of session ${this.id}`);
    }
    try {
      const s = await fh.stat();
      checkLogFile(s, this.id, this.stream);
      return { fh, dev: s.dev, ino: s.ino };
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw err instanceof StoreError ? err : ioError(err, `cannot stat the ${this.stream} log of session ${this.id}`);
    }
  }
}

/**
 * Bytes just written, read on the spot (one pread from the page cache, a few microseconds):
 * bounded, so even a cold page costs the event loop one short disk read.
 */
function readFreshRange(fh: FileHandle, from: number, end: number, into: Buffer | undefined): Buffer {
  if (into && into.length >= end - from) return into.subarray(0, readSync(fh.fd, into, 0, end - from, from));
  // No buffer given: read into the scratch one (nothing else runs meanwhile) and copy out only
  // what came, rather than allocate for the most that could have.
  const bytesRead = readSync(fh.fd, scratch, 0, end - from, from);
  return Buffer.from(scratch.subarray(0, bytesRead));
}
const scratch = Buffer.allocUnsafe(MAX_FRESH_READ);

/**
 * Bytes [from, end) as far as the file goes. Into `into` when it is large enough (the answer is a
 * view of it); otherwise into a buffer sized by what the file holds, so a far `end` costs nothing.
 */
async function readRange(fh: FileHandle, from: number, end: number, into?: Buffer): Promise<Buffer> {
  let buf: Buffer;
  if (into && into.length >= end - from) {
    buf = into.subarray(0, end - from);
  } else {
    const to = Math.min(end, (await fh.stat()).size);
    if (to <= from) return Buffer.alloc(0);
    buf = Buffer.alloc(to - from);
  }
  let filled = 0;
  while (filled < buf.length) {
    const { bytesRead } = await fh.read(buf, filled, buf.length - filled, from + filled);
    // The end of the file (or truncated while we read): what was there is the answer.
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buf.subarray(0, filled);
}

/** The shared descriptors of one store's logs, by log. */
export class SharedLogReaders {
  private readonly logs = new Map<string, SharedLog>();

  /** A reader of `file` (the log `stream` of session `id`); close it when done. */
  open(file: string, id: string, stream: LogStreamName): LogReader {
    const key = `${id}\0${stream}`;
    let log = this.logs.get(key);
    if (!log) {
      log = new SharedLog(file, id, stream);
      this.logs.set(key, log);
    }
    log.readers++;
    const shared = log;
    let closed = false;
    const live = () => {
      if (closed) throw new StoreError('io', `the reader of the ${stream} log of session ${id} is closed`);
      return shared;
    };
    return {
      size: async () => live().size(),
      read: async (start, end, into, fresh) => live().read(start, end, into, fresh),
      close: () => {
        if (closed) return;
        closed = true;
        shared.readers--;
        if (shared.readers === 0 && this.logs.get(key) === shared) {
          this.logs.delete(key);
          shared.retire();
        }
      },
    };
  }

  /** Lets go of a deleted session's descriptors at once (its readers see an empty log). */
  forget(id: string): void {
    for (const stream of ['stdout', 'stderr'] as const) this.logs.get(`${id}\0${stream}`)?.retire();
  }

  /** Logs with an open descriptor (for tests and metrics). */
  get openLogs(): number {
    return this.logs.size;
  }
}
