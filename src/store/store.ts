// The SessionStore port: the only way the service reads or writes session records and log files.
import type { Readable } from 'node:stream';
import type { Metadata, SessionRecord } from '../../schemas/session.js';
import type { LogStreamName } from '../../schemas/requests.js';
import type { ListKey, ListPosition } from './list-index.js';

export type { LogStreamName };

/**
 * One reader's handle on one log (SessionStore.openLogReader). The same guarantees as the store's
 * one-off reads: `size` checks that the log's path still names the file the store made (StoreError
 * `corrupt` otherwise) and is 0 for a missing log; `read` never reaches another file.
 */
export interface LogReader {
  /** Bytes in the log now. */
  size(): Promise<number>;
  /**
   * Bytes [start, end) of the log, as far as it goes; a view of `into` when it is large enough.
   * `fresh`: the bytes were written just now (the caller had caught up with the log and was woken
   * by its change), so they are in the page cache: a store may read them at once rather than
   * through the thread pool, whose round trip costs more than such a read (it is most of a live
   * follower's latency).
   */
  read(start: number, end: number, into?: Buffer, fresh?: boolean): Promise<Buffer>;
  /** Done reading (idempotent); reads after it fail. */
  close(): void;
}

export interface LogStat {
  /** Bytes in the log now. */
  size: number;
  /** Last modification of the log, or null when the log does not exist (yet). */
  mtime: Date | null;
}

/** Where a local process writes: the adapter opens these files itself, in append mode. */
export interface LogLocation {
  stdout: string;
  stderr: string;
  /** A folder the process adapter may keep its own per-session state in (an exit-status file, say). */
  stateDir: string;
}

/**
 * A record as the store lists it: everything but the arguments, which an ended session's record
 * keeps on disk only (10,000 stored prompts would otherwise sit in memory for nothing). `get` and
 * `complete` give whole records.
 */
export type ListedRecord = Omit<SessionRecord, 'args'>;

/** How put() writes: see SessionStore.put. */
export interface PutOptions {
  durable?: boolean;
  readableAtOnce?: boolean;
}

export interface SessionStore {
  /** Called once, before the first request: load the in-memory index. */
  init(): Promise<void>;
  /** Called once at shutdown: release watchers and handles. */
  close(): Promise<void>;

  /**
   * Creates a session: its folder, `metadata.json` (written once, never again), `session.json`
   * and empty log files, all or nothing. Throws StoreError `exists` when the id is taken.
   */
  create(record: SessionRecord, metadata: Metadata): Promise<void>;
  /**
   * The record, or undefined when there is none (or it is unreadable; the store logs why).
   * Records handed out are the index's own, frozen: read them, never change them.
   */
  get(id: string): Promise<SessionRecord | undefined>;
  /**
   * Replaces the record atomically. Throws StoreError `not_found` when the session was deleted.
   * With `durable: false` the new record is written whole but its replacing the old one is not
   * forced to disk: a crash of the machine (never of the service) may bring back the record before
   * it. For facts the runtime keeps too and start-up finds again (a launch: its keeper.json).
   * With `readableAtOnce` the store answers reads with the new record from the call on, before
   * it is on disk (a session deleted meanwhile is not brought back); should the write fail, the
   * caller keeps the change and writes it again (the supervisor's unwritten changes).
   */
  put(record: SessionRecord, options?: PutOptions): Promise<void>;
  /** Every readable record (frozen, without args), in no particular order, from the index (no disk read, no copy). */
  list(): Promise<ListedRecord[]>;
  /**
   * The records (frozen) in listing order, newest started_at first then id, from just after
   * `after` when given: O(log n) to the first, O(1) per next, from a sorted index kept on every
   * write. With `key` (see `listKey`), only the records under that filter value, from an index of
   * their own. Lazy: consume it synchronously, before the next write.
   */
  ordered(after?: ListPosition, key?: ListKey): Iterable<ListedRecord>;
  /**
   * The whole records of listed ones, in the same order: an ended session's args are read from
   * its record on disk (a few recently read are kept). A session deleted meanwhile is left out.
   */
  complete(records: readonly ListedRecord[]): Promise<SessionRecord[]>;
  /** How many records `ordered(undefined, key)` would give (all of them without a key): O(1). */
  orderedCount(key?: ListKey): number;
  getMetadata(id: string): Promise<Metadata | undefined>;
  /** True when the session's folder exists but its record could not be read (it is left out of list). */
  isDamaged(id: string): boolean;
  /** How many sessions are damaged (for /readyz). */
  damagedCount(): number;
  /** Removes the record, the metadata and the logs. Deleting a missing session is not an error. */
  delete(id: string): Promise<void>;

  /** Where the process adapter should send the session's output. */
  logLocation(id: string): LogLocation;
  /**
   * The reads below never reach another file through a log's path: a log the session replaced
   * (by a link, a hard link, a directory, a FIFO) is refused with StoreError `corrupt`, never read.
   * A missing log is empty.
   */
  logStat(id: string, stream: LogStreamName): Promise<LogStat>;
  /**
   * Bytes [start, end) of a log, clamped to its size. With `into` (at least end - start bytes),
   * they are read into it and the answer is a view of it: a reader of a long log reuses one
   * buffer instead of leaving one behind per read.
   */
  readLog(id: string, stream: LogStreamName, start: number, end: number, into?: Buffer): Promise<Buffer>;
  /**
   * A byte stream of [start, end) of a log (end exclusive), for large reads; the log is opened and
   * checked before it resolves. `chunkBytes`: bytes per read (Node's 64 KiB by default).
   */
  openLogStream(id: string, stream: LogStreamName, start: number, end: number, options?: { chunkBytes?: number }): Promise<Readable>;
  /**
   * A reader that keeps its log open across reads, for a follower that reads it again and again
   * (one read per wake-up, not an open and a check each time). Opened lazily; close it when done.
   */
  openLogReader(id: string, stream: LogStreamName): LogReader;

  /**
   * Calls `onChange` (soon, possibly more than once, possibly spuriously) when a log may have
   * grown or shrunk. Returns the function that stops watching. Best effort: a missed
   * notification is caught by the caller's own slower poll.
   */
  watchLog(id: string, stream: LogStreamName, onChange: () => void): () => void;

  /**
   * The log index (`logs.idx` beside the logs): an append-only record of when and in which order
   * the logs grew (see src/logs/time-index.ts for its format). Bytes [start, end) of it, clamped.
   */
  readLogIndex(id: string, start: number, end: number): Promise<Buffer>;
  /** Bytes in the log index now (0 when there is none yet). */
  logIndexSize(id: string): Promise<number>;
  /** Appends to the log index (created on first use). A deleted session is not an error. */
  appendLogIndex(id: string, data: Buffer): Promise<void>;

  /** Proves the store can be read and written (for /readyz); throws when it cannot. */
  probe(): Promise<void>;
}
