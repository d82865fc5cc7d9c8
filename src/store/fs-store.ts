// The file store: one folder per session under <dataDir>/sessions, atomic writes, an in-memory index.
import { randomBytes } from 'node:crypto';
import { closeSync, constants as fsConstants, lstatSync, mkdirSync, openSync, readFileSync, renameSync, watch, writeSync, type FSWatcher, type Stats } from 'node:fs';
import { lstat, mkdir, open, readFile, readdir, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Value } from '@sinclair/typebox/value';
import { isSessionId as isValidSessionId } from '../../schemas/common.js';
import { upgradeRecord } from '../../schemas/record-upgrade.js';
import { MetadataSchema, SessionRecordSchema, type Metadata, type SessionRecord } from '../../schemas/session.js';
import { errnoCode, fsyncDir, writeDurableFile, writeFileAtomic } from './atomic-write.js';
import { KeyedLock } from '../keyed-lock.js';
import { deepFreeze, frozenCopy } from './frozen.js';
import { KEPT_COMPLETION_MAX, listedOf, WholeRecords } from './ended-records.js';
import { SessionListIndex, type ListKey, type ListPosition } from './list-index.js';
import { ioError, isMissing, StoreError } from './errors.js';
import { checkLogFile, LOG_READ_FLAGS, SharedLogReaders, unsafeLog } from './log-files.js';
import { logReaderOf } from './log-reader.js';
import type { ListedRecord, LogLocation, LogReader, LogStat, LogStreamName, PutOptions, SessionStore } from './store.js';

/** The part of a pino logger the store uses. */
export interface StoreLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface FsStoreOptions {
  dataDir: string;
  log: StoreLogger;
}

const SESSIONS_DIR = 'sessions';
/** Sessions being built by `create` or taken apart by `delete`; whatever is left at init is debris. */
const TMP_PREFIX = '.tmp-';
const PROBE_FILE = '.probe';
/** Serialisation key of `probe`; it can never collide with a session id (ids have no dot). */
const PROBE_KEY = '.probe';
const DIR_MODE = 0o700;
/** Records hold prompts, paths and commands: readable by the service's user only. */
const FILE_MODE = 0o600;
const RECORD_FILE = 'session.json';
/** The process adapter's own per-session files (keeper.json, exit.json). */
const STATE_DIR = 'run';
const METADATA_FILE = 'metadata.json';
/** A temporary file of writeFileAtomic for session.json (see atomic-write.ts for the name). */
const RECORD_TMP = /^\.session\.json\.\d+\.[0-9a-f]+\.tmp$/;
/** When and in which order the logs grew (src/logs/time-index.ts), written by the service only. */
const LOG_INDEX_FILE = 'logs.idx';
const LOG_INDEX_APPEND_FLAGS = fsConstants.O_WRONLY | fsConstants.O_APPEND | fsConstants.O_CREAT | fsConstants.O_NOFOLLOW;
const LOG_FILES: Readonly<Record<LogStreamName, string>> = { stdout: 'stdout.log', stderr: 'stderr.log' };


export class FsStore implements SessionStore {
  private readonly sessionsDir: string;
  /** The records, an ended session's without its args (ended-records.ts). */
  private readonly index = new Map<string, ListedRecord>();
  /** Whole records of ended sessions read back lately. */
  private readonly wholes = new WholeRecords((id) => this.readArgs(id));
  /** The same records in listing order, kept beside the map on every change. */
  private readonly order = new SessionListIndex();
  /** Ids whose folder exists but whose session.json could not be read at init. */
  private readonly damaged = new Set<string>();
  /** Writes to one session (and probes) run one at a time, so they never interleave. */
  private readonly queue = new KeyedLock();
  /** The removal of unfinished record writes that follows init. */
  private sweeping: Promise<void> = Promise.resolve();
  private closed = false;
  /** Open descriptors of followed logs, shared by their readers. */
  private readonly readers = new SharedLogReaders();

  constructor(
    private readonly dataDir: string,
    private readonly log: StoreLogger,
  ) {
    this.sessionsDir = join(dataDir, SESSIONS_DIR);
  }

  async init(): Promise<void> {
    let names: string[];
    try {
      await mkdir(this.sessionsDir, { recursive: true, mode: DIR_MODE });
      names = await readdir(this.sessionsDir);
    } catch (err) {
      throw ioError(err, `cannot open the sessions folder ${this.sessionsDir}`);
    }
    this.index.clear();
    this.order.rebuild([]);
    this.damaged.clear();
    const ids: string[] = [];
    for (const name of names) {
      if (name.startsWith(TMP_PREFIX)) await this.removeDebris(name);
      else if (isValidSessionId(name)) ids.push(name);
      else this.log.warn({ entry: name }, 'ignoring an entry of the sessions folder that is not a session');
    }
    // Read synchronously: init runs once, before the service listens, and at 10,000 sessions the
    // promise machinery of 40,000 async open/stat/read/close calls cost three times the CPU.
    for (const id of ids) this.load(id);
    this.order.rebuild(this.index.values());
    this.log.info({ sessions: this.index.size, damaged: this.damaged.size }, 'session store loaded');
    // Debris of record writes a crash cut short is harmless where it lies: it is removed after
    // start-up, so a large store is ready without a directory listing per session.
    this.sweeping = this.removeUnfinishedWrites(ids);
  }

  async close(): Promise<void> {
    // No handles or watchers stay open between calls; only the sweep after init may still run.
    this.closed = true;
    await this.sweeping;
  }

  /** Sessions whose folder exists but whose record could not be read at init (for /readyz). */
  isDamaged(id: string): boolean {
    return this.damaged.has(id);
  }

  damagedCount(): number {
    return this.damaged.size;
  }

  async create(record: SessionRecord, metadata: Metadata): Promise<void> {
    const id = record.id;
    if (!isValidSessionId(id)) throw new StoreError('corrupt', `refusing to create a session with the invalid id ${JSON.stringify(id)}`);
    if (metadata.id !== id) throw new StoreError('corrupt', `metadata id ${metadata.id} differs from record id ${id}`);
    // Serialised now, so a caller changing its objects while we wait cannot change what is stored.
    const recordJson = toJson(record);
    const metadataJson = toJson(metadata);
    const copy = frozenCopy(record);

    await this.queue.run(id, async () => {
      if (this.index.has(id) || this.damaged.has(id)) throw exists(id);
      const tmp = join(this.sessionsDir, `${TMP_PREFIX}${id}-${randomPart()}`);
      try {
        // Created and written on the spot; only the fsyncs wait in the thread pool, all at once
        // (see atomic-write.ts): a start waits for one round of fsyncs, then the folder's.
        mkdirSync(tmp, { mode: DIR_MODE });
        // Empty: nothing of theirs to sync but their names, which the folder's fsync below makes
        // durable (and a log lost to a crash anyway reads as empty). Two fsyncs less per start.
        createEmptyFile(join(tmp, LOG_FILES.stdout));
        createEmptyFile(join(tmp, LOG_FILES.stderr));
        // Nobody sees the folder before the rename, so the order of these does not matter. All
        // settle before a failure is thrown, so the clean-up below races no write.
        const written = await Promise.allSettled([
          writeDurableFile(join(tmp, METADATA_FILE), metadataJson, FILE_MODE),
          writeDurableFile(join(tmp, RECORD_FILE), recordJson, FILE_MODE),
          fsyncDir(tmp),
        ]);
        const failed = written.find((outcome) => outcome.status === 'rejected');
        if (failed) throw failed.reason;
        // The whole folder appears under its real id at once, or not at all. A non-empty target
        // makes rename fail, which is how a taken id is detected even if the index missed it.
        renameSync(tmp, this.sessionDir(id));
      } catch (err) {
        // The temporary folder is ours alone; if removing it fails too, init removes it later.
        await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
        const code = errnoCode(err);
        if (code === 'EEXIST' || code === 'ENOTEMPTY') throw exists(id, err);
        throw ioError(err, `cannot create session ${id}`);
      }
      // The session is complete on disk from here on, so the index says so even if the fsync fails.
      this.setIndexed(copy);
      await fsyncDir(this.sessionsDir).catch((err: unknown) => {
        throw ioError(err, `cannot sync the sessions folder after creating ${id}`);
      });
    });
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    if (!isValidSessionId(id)) return undefined;
    const listed = this.index.get(id);
    return listed && this.wholes.of(listed);
  }

  async put(record: SessionRecord, options: PutOptions = {}): Promise<void> {
    const id = record.id;
    if (!isValidSessionId(id)) throw notFound(id);
    const json = toJson(record);
    const copy = frozenCopy(record);
    // Answered from the index at once; a session not indexed (deleted, damaged) waits for the write.
    const indexedAtOnce = options.readableAtOnce === true && this.index.has(id);
    if (indexedAtOnce) this.setIndexed(copy);

    await this.queue.run(id, async () => {
      try {
        // The temporary file goes inside the session folder, so a deleted session's folder is
        // never recreated: opening the temporary file fails with ENOENT instead.
        await writeFileAtomic(join(this.sessionDir(id), RECORD_FILE), json, { mode: FILE_MODE, durableRename: options.durable !== false });
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') {
          this.forget(id);
          throw notFound(id, err);
        }
        throw ioError(err, `cannot write session ${id}`);
      }
      if (!indexedAtOnce) this.setIndexed(copy);
      // A damaged record overwritten with a good one is healed.
      this.damaged.delete(id);
    });
  }

  async list(): Promise<ListedRecord[]> {
    return Array.from(this.index.values());
  }

  ordered(after?: ListPosition, key?: ListKey): Iterable<ListedRecord> {
    return this.order.newestFirst(after, key);
  }

  async complete(records: readonly ListedRecord[]): Promise<SessionRecord[]> {
    const out: SessionRecord[] = [];
    const keep = records.length <= KEPT_COMPLETION_MAX;
    for (const record of records) {
      const whole = this.wholes.of(record, keep);
      if (whole) out.push(whole);
    }
    return out;
  }

  orderedCount(key?: ListKey): number {
    return this.order.count(key);
  }

  async getMetadata(id: string): Promise<Metadata | undefined> {
    if (!isValidSessionId(id)) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(join(this.sessionDir(id), METADATA_FILE), 'utf8'));
    } catch (err) {
      if (isMissing(err)) return undefined;
      if (err instanceof SyntaxError) {
        this.log.warn({ id, err }, 'metadata.json is not valid JSON');
        return undefined;
      }
      throw ioError(err, `cannot read the metadata of session ${id}`);
    }
    if (!Value.Check(MetadataSchema, parsed)) {
      this.log.warn({ id, err: schemaError(MetadataSchema, parsed, METADATA_FILE) }, 'metadata.json does not match its schema');
      return undefined;
    }
    return parsed;
  }

  async delete(id: string): Promise<void> {
    if (!isValidSessionId(id)) return;
    await this.queue.run(id, async () => {
      // Renamed out of the way first, so a crash halfway through the removal leaves debris that
      // init clears, never a session folder with some of its files gone.
      const doomed = join(this.sessionsDir, `${TMP_PREFIX}${id}-${randomPart()}`);
      try {
        await rename(this.sessionDir(id), doomed);
      } catch (err) {
        if (isMissing(err)) {
          this.forget(id);
          return;
        }
        throw ioError(err, `cannot delete session ${id}`);
      }
      this.forget(id);
      try {
        await fsyncDir(this.sessionsDir);
        await rm(doomed, { recursive: true, force: true });
      } catch (err) {
        // The session is already gone from its id; the leftover folder is removed at next init.
        this.log.warn({ id, err }, 'could not remove the folder of a deleted session');
      }
    });
  }

  logLocation(id: string): LogLocation {
    if (!isValidSessionId(id)) throw notFound(id);
    const dir = this.sessionDir(id);
    // The keeper's files live in a folder of their own, so watching them is not woken by every
    // write to the logs next door.
    return { stdout: join(dir, LOG_FILES.stdout), stderr: join(dir, LOG_FILES.stderr), stateDir: join(dir, STATE_DIR) };
  }

  async logStat(id: string, stream: LogStreamName): Promise<LogStat> {
    const file = this.logFile(id, stream);
    if (file === undefined) return { size: 0, mtime: null };
    let s: Stats;
    try {
      // lstat: a log the session replaced by a link is not measured through the link. On the spot
      // (the indexer measures live logs after every chunk): cheaper than a thread pool round trip.
      s = lstatSync(file);
    } catch (err) {
      if (isMissing(err)) return { size: 0, mtime: null };
      throw ioError(err, `cannot stat the ${stream} log of session ${id}`);
    }
    checkLogFile(s, id, stream);
    return { size: s.size, mtime: s.mtime };
  }

  async readLog(id: string, stream: LogStreamName, start: number, end: number, into?: Buffer): Promise<Buffer> {
    const from = Math.max(0, start);
    if (!(end > from)) return Buffer.alloc(0);
    const opened = await this.openLog(id, stream);
    if (!opened) return Buffer.alloc(0);
    const { fh, size } = opened;
    try {
      const to = Math.min(end, size);
      if (from >= to) return Buffer.alloc(0);
      const buf = into && into.length >= to - from ? into.subarray(0, to - from) : Buffer.alloc(to - from);
      let filled = 0;
      while (filled < buf.length) {
        const { bytesRead } = await fh.read(buf, filled, buf.length - filled, from + filled);
        // Truncated while we read: what was there is the answer.
        if (bytesRead === 0) return buf.subarray(0, filled);
        filled += bytesRead;
      }
      return buf;
    } catch (err) {
      throw ioError(err, `cannot read the ${stream} log of session ${id}`);
    } finally {
      await fh.close();
    }
  }

  async openLogStream(id: string, stream: LogStreamName, start: number, end: number, options: { chunkBytes?: number } = {}): Promise<Readable> {
    const from = Math.max(0, start);
    if (!(end > from)) return emptyStream();
    // A missing log is an empty stream, not an error every caller would have to tell apart from a real fault.
    const opened = await this.openLog(id, stream);
    if (!opened) return emptyStream();
    // Streamed from the checked descriptor (closed when the stream ends or is destroyed). Node's
    // `end` is inclusive, ours is exclusive.
    return opened.fh.createReadStream({ start: from, end: end - 1, ...(options.chunkBytes ? { highWaterMark: options.chunkBytes } : {}) });
  }

  openLogReader(id: string, stream: LogStreamName): LogReader {
    const file = this.logFile(id, stream);
    // An id that can name no session reads as an empty log, like the one-off reads.
    if (file === undefined) return logReaderOf(this, id, stream);
    return this.readers.open(file, id, stream);
  }

  watchLog(id: string, stream: LogStreamName, onChange: () => void): () => void {
    const file = this.logFile(id, stream);
    if (file === undefined) return () => undefined;
    let watcher: FSWatcher;
    try {
      // inotify on the file itself: appends and truncations both fire 'change'.
      watcher = watch(file, { persistent: false }, () => onChange());
    } catch (err) {
      // A log that is missing or cannot be watched is still followed by the caller's poll.
      this.log.warn({ id, stream, err }, 'cannot watch a log; falling back to polling');
      return () => undefined;
    }
    watcher.on('error', () => {
      // The file went away (the session was deleted): nothing more will change.
      watcher.close();
    });
    return () => watcher.close();
  }

  async readLogIndex(id: string, start: number, end: number): Promise<Buffer> {
    const from = Math.max(0, start);
    if (!isValidSessionId(id) || !(end > from)) return Buffer.alloc(0);
    let fh: FileHandle;
    try {
      fh = await open(join(this.sessionDir(id), LOG_INDEX_FILE), LOG_READ_FLAGS);
    } catch (err) {
      if (isMissing(err)) return Buffer.alloc(0);
      throw ioError(err, `cannot open the log index of session ${id}`);
    }
    try {
      const s = await fh.stat();
      if (!s.isFile()) return Buffer.alloc(0);
      const to = Math.min(end, s.size);
      if (from >= to) return Buffer.alloc(0);
      const buf = Buffer.alloc(to - from);
      const { bytesRead } = await fh.read(buf, 0, buf.length, from);
      return buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  }

  async logIndexSize(id: string): Promise<number> {
    if (!isValidSessionId(id)) return 0;
    try {
      const s = await lstat(join(this.sessionDir(id), LOG_INDEX_FILE));
      return s.isFile() ? s.size : 0;
    } catch (err) {
      if (isMissing(err)) return 0;
      throw ioError(err, `cannot stat the log index of session ${id}`);
    }
  }

  async appendLogIndex(id: string, data: Buffer): Promise<void> {
    if (!isValidSessionId(id) || !this.index.has(id) || data.length === 0) return;
    // On the spot, not in the thread pool: a few bytes into the page cache after every chunk a
    // live session writes; three pool round trips each (open, write, close) competed for the CPU
    // with the followers being woken for that same chunk.
    let fd: number;
    try {
      fd = openSync(join(this.sessionDir(id), LOG_INDEX_FILE), LOG_INDEX_APPEND_FLAGS, FILE_MODE);
    } catch (err) {
      // Deleted meanwhile: there is nothing left to index.
      if (isMissing(err)) return;
      throw ioError(err, `cannot open the log index of session ${id}`);
    }
    try {
      // One write of whole entries: a reader never sees half an entry unless the machine fails.
      writeSync(fd, data);
    } catch (err) {
      throw ioError(err, `cannot write the log index of session ${id}`);
    } finally {
      closeSync(fd);
    }
  }

  async probe(): Promise<void> {
    // Serialised: two probes at once would read back each other's token and fail for nothing.
    await this.queue.run(PROBE_KEY, async () => {
      const file = join(this.dataDir, PROBE_FILE);
      const token = `${process.pid}-${randomPart()}`;
      try {
        await writeFileAtomic(file, token, { mode: FILE_MODE });
        const back = await readFile(file, 'utf8');
        if (back !== token) throw new StoreError('io', `the probe file ${file} read back different content`);
        await rm(file, { force: true });
      } catch (err) {
        throw ioError(err, `the data folder ${this.dataDir} cannot be written and read back`);
      }
    });
  }

  /** Only ever called with a checked id. */
  private sessionDir(id: string): string {
    return join(this.sessionsDir, id);
  }

  /**
   * Opens a log for reading without following a link, and checks the open descriptor: the file
   * read is the one checked, whatever the session does to the path meanwhile. Undefined when the
   * log is missing; StoreError `corrupt` when it is not a regular file the service created.
   */
  private async openLog(id: string, stream: LogStreamName): Promise<{ fh: FileHandle; size: number } | undefined> {
    const file = this.logFile(id, stream);
    if (file === undefined) return undefined;
    let fh: FileHandle;
    try {
      fh = await open(file, LOG_READ_FLAGS);
    } catch (err) {
      if (isMissing(err)) return undefined;
      if (errnoCode(err) === 'ELOOP') throw unsafeLog(id, stream, 'a symbolic link');
      throw ioError(err, `cannot open the ${stream} log of session ${id}`);
    }
    try {
      const s = await fh.stat();
      checkLogFile(s, id, stream);
      return { fh, size: s.size };
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw err instanceof StoreError ? err : ioError(err, `cannot stat the ${stream} log of session ${id}`);
    }
  }

  private logFile(id: string, stream: LogStreamName): string | undefined {
    if (!isValidSessionId(id) || !Object.hasOwn(LOG_FILES, stream)) return undefined;
    return join(this.sessionDir(id), LOG_FILES[stream]);
  }

  private setIndexed(record: SessionRecord): void {
    const listed = listedOf(record);
    this.order.set(listed, this.index.get(record.id));
    this.index.set(record.id, listed);
    this.wholes.remember(listed, record);
  }

  /**
   * An ended session's args, read back from its session.json (on the spot: a few KB, as a list
   * page or GET of an ended session needs them). Undefined when the session is gone.
   */
  private readArgs(id: string): string[] | undefined {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(join(this.sessionDir(id), RECORD_FILE), 'utf8'));
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw ioError(err, `cannot read the record of session ${id}`);
    }
    const args = (parsed as { args?: unknown } | null)?.args;
    if (!Array.isArray(args) || !args.every((arg) => typeof arg === 'string')) {
      throw new StoreError('corrupt', `the ${RECORD_FILE} of session ${id} no longer holds its args`);
    }
    return args;
  }

  private forget(id: string): void {
    const record = this.index.get(id);
    if (record) this.order.delete(record);
    this.index.delete(id);
    this.wholes.forget(id);
    this.damaged.delete(id);
    this.readers.forget(id);
  }

  /** Reads one session.json into the index; anything wrong with it marks the session damaged. */
  private load(id: string): void {
    let parsed: unknown;
    try {
      parsed = upgradeRecord(JSON.parse(readFileSync(join(this.sessionDir(id), RECORD_FILE), 'utf8')));
    } catch (err) {
      this.markDamaged(id, err);
      return;
    }
    if (!Value.Check(SessionRecordSchema, parsed)) {
      this.markDamaged(id, schemaError(SessionRecordSchema, parsed, RECORD_FILE));
      return;
    }
    if (parsed.id !== id) {
      this.markDamaged(id, new StoreError('corrupt', `${RECORD_FILE} holds the id ${parsed.id}`));
      return;
    }
    // Parsed here and shared with nobody: frozen as it is, no copy needed. An ended session's
    // args are left to the garbage collector (read back when asked for).
    this.index.set(id, listedOf(deepFreeze(parsed)));
  }

  private markDamaged(id: string, err: unknown): void {
    this.damaged.add(id);
    this.log.warn({ id, err }, 'skipping a session whose session.json cannot be read');
  }

  /**
   * Removes the temporary files of record writes cut short by a crash (writeFileAtomic's
   * `.session.json.<pid>.<random>.tmp`), one session at a time under its lock, so never a write
   * of this process under way. Only the store's own: the keeper writes files of its own nearby.
   */
  private async removeUnfinishedWrites(ids: string[]): Promise<void> {
    for (const id of ids) {
      if (this.closed) return;
      await this.queue.run(id, async () => {
        const names = await readdir(this.sessionDir(id)).catch(() => [] as string[]);
        for (const name of names) {
          if (!RECORD_TMP.test(name)) continue;
          try {
            await rm(join(this.sessionDir(id), name), { force: true });
            this.log.info({ id, entry: name }, 'removed an unfinished write of a session record');
          } catch (err) {
            this.log.warn({ id, entry: name, err }, 'could not remove an unfinished write of a session record');
          }
        }
      });
    }
  }

  private async removeDebris(name: string): Promise<void> {
    try {
      await rm(join(this.sessionsDir, name), { recursive: true, force: true });
      this.log.info({ entry: name }, 'removed an unfinished session folder');
    } catch (err) {
      // Debris never shows up as a session, so it may wait for the next start.
      this.log.warn({ entry: name, err }, 'could not remove an unfinished session folder');
    }
  }
}

export function createFsStore(options: FsStoreOptions): FsStore {
  return new FsStore(options.dataDir, options.log);
}

/** Creates an empty file that must not exist yet. */
function createEmptyFile(path: string): void {
  closeSync(openSync(path, 'wx', FILE_MODE));
}

function toJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

function randomPart(): string {
  return randomBytes(6).toString('hex');
}

function emptyStream(): Readable {
  return Readable.from([], { objectMode: false });
}

function schemaError(schema: typeof SessionRecordSchema | typeof MetadataSchema, value: unknown, file: string): StoreError {
  const first = Value.Errors(schema, value).First();
  const where = first === undefined ? '' : `: ${first.path || '/'} ${first.message}`;
  return new StoreError('corrupt', `${file} does not match its schema${where}`);
}

function exists(id: string, cause?: unknown): StoreError {
  return new StoreError('exists', `session ${id} already exists`, cause === undefined ? undefined : { cause });
}

function notFound(id: string, cause?: unknown): StoreError {
  return new StoreError('not_found', `no session with id ${JSON.stringify(id)}`, cause === undefined ? undefined : { cause });
}
