// LogIndexer: the ONE watcher in the service that notes, for every live session, when and in
// which order its logs grow (the log index, time-index.ts). The session writes its output
// straight to its files, so nothing sits in the middle of it and it never blocks on the service;
// the price is that times are as observed (a millisecond or two after the write), and bytes
// written while the service is down get one entry with the log's mtime at the next start.
import type { LogStreamName, SessionStore } from '../store/store.js';
import { LogCap, type PunchHole } from './log-cap.js';
import { decodeEntries, emptyIndexState, encodeEntry, type IndexState } from './time-index.js';

export const INDEX_POLL_MS = 1000;
const STREAMS: LogStreamName[] = ['stdout', 'stderr'];

export interface LogIndexerOptions {
  store: SessionStore;
  log: { warn(obj: object, msg: string): void };
  /** The safety poll, for a change inotify did not report. */
  pollMs?: number;
  now?: () => number;
  /** SESSIOND_MAX_LOG_BYTES: the cap is enforced here, where every live log's growth is seen. 0 or absent: no cap. */
  maxLogBytes?: number;
  /** How holes are punched (tests); fallocate by default. */
  punch?: PunchHole;
}

interface Tracked {
  state: IndexState;
  /** Changes seen and not yet noted, in the order seen, with the time each was seen. */
  queue: { stream: LogStreamName; t: number }[];
  /** The running note (catch-up first, then each drain), chained so entries keep their order. */
  work: Promise<void>;
  draining: boolean;
  unwatch: () => void;
}

export class LogIndexer {
  private readonly tracked = new Map<string, Tracked>();
  /** Last notes of sessions that just ended, still being written. */
  private readonly finishing = new Map<string, Promise<void>>();
  private readonly now: () => number;
  private readonly timer: NodeJS.Timeout;
  private readonly cap: LogCap | null;

  constructor(private readonly options: LogIndexerOptions) {
    this.now = options.now ?? Date.now;
    const maxBytes = options.maxLogBytes ?? 0;
    this.cap = maxBytes > 0 ? new LogCap({ store: options.store, maxBytes, log: options.log, punch: options.punch }) : null;
    this.timer = setInterval(() => this.poll(), options.pollMs ?? INDEX_POLL_MS);
    this.timer.unref();
  }

  /** Starts noting a live session's output (idempotent). */
  track(id: string): void {
    if (this.tracked.has(id)) return;
    const entry: Tracked = { state: emptyIndexState(), queue: [], work: Promise.resolve(), draining: false, unwatch: () => undefined };
    this.tracked.set(id, entry);
    const offs = STREAMS.map((stream) => this.options.store.watchLog(id, stream, () => this.seen(id, entry, stream)));
    entry.unwatch = () => offs.forEach((off) => off());
    entry.work = this.catchUp(id, entry).catch((err) => this.options.log.warn({ id, err }, 'cannot read the log index'));
  }

  /** The session has ended: notes its last bytes, then stops watching it. */
  async untrack(id: string): Promise<void> {
    const entry = this.tracked.get(id);
    if (!entry) return;
    this.tracked.delete(id);
    entry.unwatch();
    for (const stream of STREAMS) entry.queue.push({ stream, t: this.now() });
    const last = this.drain(id, entry);
    this.finishing.set(id, last);
    await last;
    if (this.finishing.get(id) === last) this.finishing.delete(id);
  }

  /** Resolves once everything seen so far of `id` is in its index (tests, shutdown). */
  async settled(id: string): Promise<void> {
    const entry = this.tracked.get(id);
    if (entry) await this.drain(id, entry);
    await this.finishing.get(id);
  }

  get trackedCount(): number {
    return this.tracked.size;
  }

  close(): void {
    clearInterval(this.timer);
    for (const entry of this.tracked.values()) entry.unwatch();
    this.tracked.clear();
  }

  private seen(id: string, entry: Tracked, stream: LogStreamName): void {
    // The time is taken when the change is reported, not when the note is written. The note is
    // written after the followers woken by the same change have sent its bytes (setImmediate
    // runs after them), and once for all the changes seen meanwhile.
    entry.queue.push({ stream, t: this.now() });
    if (entry.queue.length === 1) setImmediate(() => void this.drain(id, entry));
  }

  private poll(): void {
    for (const [id, entry] of this.tracked) {
      for (const stream of STREAMS) entry.queue.push({ stream, t: this.now() });
      void this.drain(id, entry);
    }
  }

  private drain(id: string, entry: Tracked): Promise<void> {
    entry.work = entry.work.then(async () => {
      const queue = entry.queue.splice(0);
      const out: Buffer[] = [];
      for (const { stream, t } of queue) {
        const stat = await this.options.store.logStat(id, stream).catch(() => null);
        if (!stat || stat.size === entry.state.ends[stream]) continue;
        out.push(encodeEntry(entry.state, t, stream, stat.size));
      }
      if (out.length > 0) await this.options.store.appendLogIndex(id, Buffer.concat(out));
      if (out.length > 0) await this.enforceCap(id, entry);
    }).catch((err) => this.options.log.warn({ id, err }, 'cannot write the log index'));
    return entry.work;
  }

  /** Reads what the index says so far; bytes written while nobody watched get one entry each, at the log's mtime. */
  private async catchUp(id: string, entry: Tracked): Promise<void> {
    const { store } = this.options;
    const size = await store.logIndexSize(id);
    const step = 64 * 1024;
    let pos = 0;
    let carry = Buffer.alloc(0);
    while (pos < size) {
      const buf = Buffer.concat([carry, await store.readLogIndex(id, pos, Math.min(size, pos + step))]);
      if (buf.length === carry.length) break;
      pos += buf.length - carry.length;
      const { used } = decodeEntries(entry.state, buf);
      carry = Buffer.from(buf.subarray(used));
    }
    const stats = await Promise.all(STREAMS.map(async (stream) => ({ stream, stat: await store.logStat(id, stream).catch(() => null) })));
    const behind = stats
      .filter(({ stream, stat }) => stat && stat.size !== entry.state.ends[stream])
      .sort((a, b) => (a.stat?.mtime?.getTime() ?? 0) - (b.stat?.mtime?.getTime() ?? 0));
    const out = behind.map(({ stream, stat }) => encodeEntry(entry.state, stat?.mtime?.getTime() ?? this.now(), stream, stat?.size ?? 0));
    if (out.length > 0) await store.appendLogIndex(id, Buffer.concat(out));
    // At start-up too: a live session may have written past the cap while the service was down.
    await this.enforceCap(id, entry);
  }

  private async enforceCap(id: string, entry: Tracked): Promise<void> {
    if (!this.cap) return;
    for (const stream of STREAMS) {
      await this.cap.enforce(id, stream, entry.state.ends[stream]).catch((err) => this.options.log.warn({ id, stream, err }, 'cannot drop the oldest bytes of a log over its cap'));
    }
  }
}
