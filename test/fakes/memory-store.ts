// In-memory SessionStore for tests: the file store's semantics without a disk, plus log-writing helpers.
import { Readable } from 'node:stream';
import { isTerminalStatus, type Metadata, type SessionRecord } from '../../schemas/session.js';
import { StoreError } from '../../src/store/errors.js';
import { frozenCopy } from '../../src/store/frozen.js';
import { SessionListIndex, type ListKey, type ListPosition } from '../../src/store/list-index.js';
import { isSessionId as isValidSessionId } from '../../schemas/common.js';
import { logReaderOf } from '../../src/store/log-reader.js';
import type { ListedRecord, LogLocation, LogReader, LogStat, LogStreamName, SessionStore } from '../../src/store/store.js';

interface MemoryLog {
  data: Buffer;
  mtime: Date;
}

interface MemorySession {
  record: SessionRecord;
  metadata: Metadata;
  logs: Record<LogStreamName, MemoryLog>;
}

export class MemoryStore implements SessionStore {
  /** Set to make `probe()` reject, as a full or read-only disk would (readiness tests). */
  failProbe = false;
  private readonly sessions = new Map<string, MemorySession>();
  private readonly order = new SessionListIndex();
  private readonly watchers = new Map<string, Set<() => void>>();

  async init(): Promise<void> {}

  async close(): Promise<void> {}

  private readonly damaged = new Set<string>();

  isDamaged(id: string): boolean {
    return this.damaged.has(id);
  }

  damagedCount(): number {
    return this.damaged.size;
  }

  /** Test helper: the record of `id` becomes unreadable, as a damaged session.json would be. */
  markDamaged(id: string): void {
    const session = this.sessions.get(id);
    if (session) this.order.delete(session.record);
    this.sessions.delete(id);
    this.damaged.add(id);
  }

  async create(record: SessionRecord, metadata: Metadata): Promise<void> {
    const id = record.id;
    if (!isValidSessionId(id)) throw new StoreError('corrupt', `refusing to create a session with the invalid id ${JSON.stringify(id)}`);
    if (metadata.id !== id) throw new StoreError('corrupt', `metadata id ${metadata.id} differs from record id ${id}`);
    if (this.sessions.has(id)) throw new StoreError('exists', `session ${id} already exists`);
    // Empty logs exist from the start, as the file store's empty files do.
    const now = new Date();
    const copy = frozenCopy(record);
    this.order.set(copy);
    this.sessions.set(id, {
      record: copy,
      metadata: structuredClone(metadata),
      logs: { stdout: { data: Buffer.alloc(0), mtime: now }, stderr: { data: Buffer.alloc(0), mtime: now } },
    });
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    const session = this.session(id);
    return session?.record;
  }

  async put(record: SessionRecord): Promise<void> {
    const session = this.session(record.id);
    if (session === undefined) throw notFound(record.id);
    const copy = frozenCopy(record);
    this.order.set(copy, session.record);
    session.record = copy;
  }

  async list(): Promise<ListedRecord[]> {
    return Array.from(this.sessions.values(), (session) => listed(session.record));
  }

  *ordered(after?: ListPosition, key?: ListKey): Iterable<ListedRecord> {
    for (const record of this.order.newestFirst(after, key)) yield listed(record);
  }

  async complete(records: readonly ListedRecord[]): Promise<SessionRecord[]> {
    const out: SessionRecord[] = [];
    for (const record of records) {
      const args = this.session(record.id)?.record.args;
      if (args) out.push(Object.freeze({ ...record, args }));
    }
    return out;
  }

  orderedCount(key?: ListKey): number {
    return this.order.count(key);
  }

  async getMetadata(id: string): Promise<Metadata | undefined> {
    const session = this.session(id);
    return session === undefined ? undefined : structuredClone(session.metadata);
  }

  async delete(id: string): Promise<void> {
    if (!isValidSessionId(id)) return;
    const session = this.sessions.get(id);
    if (session) this.order.delete(session.record);
    this.sessions.delete(id);
    this.damaged.delete(id);
  }

  /** Virtual paths: nothing is ever written there, but they look like what the file store returns. */
  logLocation(id: string): LogLocation {
    if (!isValidSessionId(id)) throw notFound(id);
    return { stdout: `/memory/${id}/stdout.log`, stderr: `/memory/${id}/stderr.log`, stateDir: `/memory/${id}` };
  }

  async logStat(id: string, stream: LogStreamName): Promise<LogStat> {
    const log = this.log(id, stream);
    return log === undefined ? { size: 0, mtime: null } : { size: log.data.length, mtime: new Date(log.mtime) };
  }

  async readLog(id: string, stream: LogStreamName, start: number, end: number, into?: Buffer): Promise<Buffer> {
    const bytes = this.slice(id, stream, start, end);
    if (!into || into.length < bytes.length) return bytes;
    bytes.copy(into);
    return into.subarray(0, bytes.length);
  }

  async openLogStream(id: string, stream: LogStreamName, start: number, end: number, _options?: { chunkBytes?: number }): Promise<Readable> {
    const bytes = this.slice(id, stream, start, end);
    return Readable.from(bytes.length === 0 ? [] : [bytes], { objectMode: false });
  }

  openLogReader(id: string, stream: LogStreamName): LogReader {
    return logReaderOf(this, id, stream);
  }

  watchLog(id: string, stream: LogStreamName, onChange: () => void): () => void {
    const key = `${id}/${stream}`;
    const listeners = this.watchers.get(key) ?? new Set<() => void>();
    listeners.add(onChange);
    this.watchers.set(key, listeners);
    return () => {
      listeners.delete(onChange);
      if (listeners.size === 0) this.watchers.delete(key);
    };
  }

  private readonly indexes = new Map<string, Buffer>();

  async readLogIndex(id: string, start: number, end: number): Promise<Buffer> {
    return Buffer.from((this.indexes.get(id) ?? Buffer.alloc(0)).subarray(Math.max(0, start), Math.max(0, end)));
  }

  async logIndexSize(id: string): Promise<number> {
    return this.indexes.get(id)?.length ?? 0;
  }

  async appendLogIndex(id: string, data: Buffer): Promise<void> {
    this.indexes.set(id, Buffer.concat([this.indexes.get(id) ?? Buffer.alloc(0), data]));
  }

  /** How many log watchers are open (tests check that clients release theirs). */
  watcherCount(): number {
    let n = 0;
    for (const listeners of this.watchers.values()) n += listeners.size;
    return n;
  }

  private notify(id: string, stream: LogStreamName): void {
    for (const listener of this.watchers.get(`${id}/${stream}`) ?? []) listener();
  }

  async probe(): Promise<void> {
    if (this.failProbe) throw new StoreError('io', 'probe failed: failProbe is set on the memory store');
  }

  /** Test helper: what a process writing to the log would do. Throws not_found for an unknown session. */
  appendLog(id: string, stream: LogStreamName, data: string | Buffer): void {
    const log = this.requireLog(id, stream);
    log.data = Buffer.concat([log.data, typeof data === 'string' ? Buffer.from(data, 'utf8') : data]);
    log.mtime = new Date();
    this.notify(id, stream);
  }

  /** Test helper: cuts (or, like ftruncate, zero-extends) a log to `size` bytes. */
  truncateLog(id: string, stream: LogStreamName, size: number): void {
    const log = this.requireLog(id, stream);
    log.data =
      size <= log.data.length
        ? Buffer.from(log.data.subarray(0, size))
        : Buffer.concat([log.data, Buffer.alloc(size - log.data.length)]);
    log.mtime = new Date();
    this.notify(id, stream);
  }

  private session(id: string): MemorySession | undefined {
    return isValidSessionId(id) ? this.sessions.get(id) : undefined;
  }

  private log(id: string, stream: LogStreamName): MemoryLog | undefined {
    const logs = this.session(id)?.logs;
    return logs !== undefined && Object.hasOwn(logs, stream) ? logs[stream] : undefined;
  }

  private requireLog(id: string, stream: LogStreamName): MemoryLog {
    const log = this.log(id, stream);
    if (log === undefined) throw notFound(id);
    return log;
  }

  /** A copy of bytes [start, end), clamped like the file store clamps. */
  private slice(id: string, stream: LogStreamName, start: number, end: number): Buffer {
    const data = this.log(id, stream)?.data;
    const from = Math.max(0, start);
    if (data === undefined || !(end > from)) return Buffer.alloc(0);
    return Buffer.from(data.subarray(from, Math.min(end, data.length)));
  }
}

export function createMemoryStore(): MemoryStore {
  return new MemoryStore();
}

function notFound(id: string): StoreError {
  return new StoreError('not_found', `no session with id ${JSON.stringify(id)}`);
}

/** As the file store lists them: an ended session's record without its args (see ListedRecord). */
function listed(record: ListedRecord): ListedRecord {
  if (!isTerminalStatus(record.status)) return record;
  const { args: _args, ...rest } = record as SessionRecord;
  return Object.freeze(rest);
}
