// The agent tracker: keeps the message index and summary of every agent session up to date. It
// follows live sessions' stdout (one watcher per log, the shared safety poll), parses only the
// bytes it has not seen, checkpoints where it is at most once a second (and at the end), and
// tells the supervisor of a changed summary at most once a second per session. Reads parse what
// is new first, so a page or a stream is never behind the log. At a session's end the supervisor
// asks it for the final summary (every line parsed, the last one too).
import type { EventEmitter } from 'node:events';
import type { AgentSummary } from '../../schemas/agent.js';
import type { Session, SessionRecord } from '../../schemas/session.js';
import { KeyedLock } from '../keyed-lock.js';
import { LogHub } from '../logs/hub.js';
import { guardLogRead } from '../sessions/session-logs.js';
import type { ListedRecord, SessionStore } from '../store/store.js';
import { INITIAL_NAMES, NameTable, decodeRecords, encodeRecords, type IndexEntry } from './index-records.js';
import { IndexGapError, RECORD_BYTES, type AgentCheckpoint, type AgentIndexStore } from './index-store.js';
import { LineParser, type LineFact } from './line-parser.js';
import { retainedWindows } from '../logs/retained.js';
import { emptySummary, foldMessage, sameSummary } from './summary.js';

export type { IndexEntry };

export interface AgentTrackerOptions {
  store: SessionStore;
  index: AgentIndexStore;
  /** Records a live session's changed summary (the supervisor's `agent` observation). */
  report: (id: string, summary: AgentSummary) => Promise<unknown>;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
  clock: () => Date;
  /** The safety poll of followed logs (inotify does the fast path). */
  pollIntervalMs: number;
  /** At most one report per session per this long: the contract says a second. */
  reportIntervalMs?: number;
  /** How often a live session's checkpoint is written at most. */
  checkpointIntervalMs?: number;
}

/** Bytes read from the log per step. */
const READ_CHUNK = 256 * 1024;
/** Read buffers kept between reads (one per parse under way, which are few). */
const MAX_SPARE_BUFFERS = 4;
const REPORT_INTERVAL_MS = 1000;
const CHECKPOINT_INTERVAL_MS = 1000;

/** One session's parse: where it is, and what it has found. */
interface Parse {
  id: string;
  parser: LineParser;
  count: number;
  summary: AgentSummary;
  names: NameTable;
  complete: boolean;
  /** Found more than the saved checkpoint says. */
  dirty: boolean;
  savedAt: number;
}

/** A live session being followed. */
interface Follow {
  unsubscribe: () => void;
  running: boolean;
  again: boolean;
  timer: NodeJS.Timeout | null;
  /** A report is being recorded: the next waits for it. */
  reporting: boolean;
  /** When the last report was recorded (its event appended). */
  lastReportAt: number;
  reported: AgentSummary | null;
}

export class AgentTracker {
  private readonly lock = new KeyedLock();
  private readonly hub: LogHub;
  /** Parses kept between calls: those of followed (live) sessions; others are loaded per call. */
  private readonly parses = new Map<string, Parse>();
  private readonly follows = new Map<string, Follow>();
  private stopListening: (() => void) | null = null;
  private closed = false;
  /** Read buffers, reused: a 50 MB line read in fresh buffers would leave 50 MB of garbage behind. */
  private readonly buffers: Buffer[] = [];

  constructor(private readonly options: AgentTrackerOptions) {
    this.hub = new LogHub(options.store, options.pollIntervalMs);
  }

  /**
   * Called once at start-up, after the supervisor has reconciled: follows the live agent sessions,
   * and from now on every agent session that starts; forgets deleted ones.
   */
  start(records: readonly ListedRecord[], changes: EventEmitter<{ change: [{ type: string; session: Session }] }>): void {
    for (const record of records) {
      if (record.agent !== null && (record.status === 'starting' || record.status === 'running')) this.follow(record.id);
    }
    const onChange = ({ type, session }: { type: string; session: Session }) => {
      if (type === 'session.started' && session.agent !== null) this.follow(session.id);
      else if (type === 'session.ended') this.unfollow(session.id);
      else if (type === 'session.deleted') void this.forget(session.id);
    };
    changes.on('change', onChange);
    this.stopListening = () => changes.off('change', onChange);
  }

  /**
   * The supervisor's hook at an agent session's end: every line parsed (the last one, without
   * its newline, too), the index marked complete, and the final summary.
   */
  async finish(record: SessionRecord): Promise<AgentSummary | null> {
    if (record.agent === null) return null;
    // No more reports: the end records the final summary itself.
    this.unfollow(record.id);
    return this.lock.run(record.id, async () => (await this.advance(record.id, true)).summary);
  }

  /**
   * Parses what is new (everything, the last line too, when `ended`), then answers up to `count`
   * entries from index `from` (0-based) and how many there are.
   */
  async entries(id: string, from: number, count: number, ended: boolean): Promise<{ entries: IndexEntry[]; total: number }> {
    return this.lock.run(id, async () => {
      const parse = await this.advance(id, ended);
      const want = Math.max(0, Math.min(count, parse.count - from));
      const buf = want > 0 ? await this.options.index.read(id, from, want) : Buffer.alloc(0);
      return { entries: decodeRecords(buf, from + 1, parse.names), total: parse.count };
    });
  }

  /** The index (0-based) of the first message whose line starts at or after `offset`. */
  async firstAtOrAfter(id: string, offset: number, ended: boolean): Promise<number> {
    return this.lock.run(id, async () => {
      const parse = await this.advance(id, ended);
      let low = 0;
      let high = parse.count;
      while (low < high) {
        const mid = Math.floor((low + high) / 2);
        const record = await this.options.index.read(id, mid, 1);
        if (record.length < RECORD_BYTES || record.readDoubleLE(0) >= offset) high = mid;
        else low = mid + 1;
      }
      return low;
    });
  }

  /** Called at shutdown: stops following and writes where each live parse is. */
  async close(): Promise<void> {
    this.closed = true;
    this.stopListening?.();
    for (const id of [...this.follows.keys()]) {
      this.unfollow(id);
      // Queued after the checkpoint write unfollow asked for: done when it is.
      await this.lock.run(id, async () => undefined);
    }
    this.parses.clear();
    this.hub.close();
  }

  /** Sessions followed now (for tests). */
  get following(): number {
    return this.follows.size;
  }

  private follow(id: string): void {
    if (this.follows.has(id) || this.closed) return;
    const follow: Follow = { unsubscribe: () => undefined, running: false, again: false, timer: null, reporting: false, lastReportAt: -Infinity, reported: null };
    this.follows.set(id, follow);
    follow.unsubscribe = this.hub.subscribe(id, 'stdout', () => this.kick(id));
    // What was written before the watch began (or while the service was down).
    this.kick(id);
  }

  /** Stops following; `keep` false: the session is gone, nothing of it is written. */
  private unfollow(id: string, keep = true): void {
    const follow = this.follows.get(id);
    if (!follow) return;
    this.follows.delete(id);
    follow.unsubscribe();
    if (follow.timer) clearTimeout(follow.timer);
    if (!keep) return;
    // Its parse stays until the calls under way are done with it; its progress is written, and
    // later calls load it from there.
    void this.lock
      .run(id, async () => {
        const parse = this.parses.get(id);
        if (this.follows.has(id) || !parse) return;
        this.parses.delete(id);
        if (parse.dirty) await this.save(parse);
      })
      .catch((err: unknown) => this.options.log.warn({ err, id }, 'could not write the agent checkpoint of a session'));
  }

  private async forget(id: string): Promise<void> {
    this.unfollow(id, false);
    await this.lock
      .run(id, async () => {
        this.parses.delete(id);
        await this.options.index.remove(id);
      })
      .catch((err: unknown) => this.options.log.warn({ err, id }, 'could not remove the agent index of a deleted session'));
  }

  /** The log moved: parse it (one run at a time per session; a kick during a run asks for one more). */
  private kick(id: string): void {
    const follow = this.follows.get(id);
    if (!follow || this.closed) return;
    if (follow.running) {
      follow.again = true;
      return;
    }
    follow.running = true;
    void (async () => {
      do {
        follow.again = false;
        try {
          await this.lock.run(id, () => this.advance(id, false));
        } catch (err) {
          // The next change of the log or the safety poll tries again.
          this.options.log.warn({ err, id }, 'could not parse the new output of an agent session');
        }
      } while (follow.again && this.follows.get(id) === follow);
      follow.running = false;
      this.scheduleReport(id);
    })();
  }

  /**
   * Tells the supervisor of a changed summary, a second after the last one was recorded at the
   * soonest (counted from when its event was appended, so two events are never closer).
   */
  private scheduleReport(id: string): void {
    const follow = this.follows.get(id);
    const parse = this.parses.get(id);
    if (!follow || !parse || follow.timer || follow.reporting || sameSummary(follow.reported, parse.summary)) return;
    const wait = Math.max(0, follow.lastReportAt + (this.options.reportIntervalMs ?? REPORT_INTERVAL_MS) - performance.now());
    follow.timer = setTimeout(() => {
      follow.timer = null;
      const summary = this.parses.get(id)?.summary;
      if (this.follows.get(id) !== follow || !summary) return;
      follow.reporting = true;
      follow.reported = summary;
      this.options
        .report(id, summary)
        .catch((err: unknown) => {
          if ((err as { code?: string }).code !== 'session_not_found') this.options.log.warn({ err, id }, 'could not record the agent summary of a session');
        })
        .finally(() => {
          follow.reporting = false;
          follow.lastReportAt = performance.now();
          this.scheduleReport(id);
        });
    }, wait);
    follow.timer.unref();
  }

  /** Under the session's lock: its parse, kept for a followed session, loaded from its checkpoint otherwise. */
  private async parseOf(id: string): Promise<Parse> {
    const kept = this.parses.get(id);
    if (kept) return kept;
    const checkpoint = await this.options.index.load(id);
    const parse = checkpoint ? fromCheckpoint(id, checkpoint) : fresh(id);
    if (this.follows.has(id)) this.parses.set(id, parse);
    return parse;
  }

  /**
   * Under the session's lock: parses the bytes of stdout not parsed yet and indexes the lines
   * they complete; with `ended`, the last line too, and the index is complete.
   */
  private async advance(id: string, ended: boolean): Promise<Parse> {
    const parse = await this.parseOf(id);
    if (parse.complete) return parse;
    const { store } = this.options;
    try {
      const stat = await guardLogRead(() => store.logStat(id, 'stdout'));
      if (stat.size < parse.parser.offset) {
        // Someone cut the log: what was indexed no longer describes it. Start over.
        this.options.log.warn({ id, size: stat.size, parsed: parse.parser.offset }, 'the stdout of an agent session shrank: its messages are indexed again from the start');
        Object.assign(parse, fresh(id), { dirty: true });
      }
      // When the bytes were written, as near as the service knows: the log's last change.
      const at = (stat.mtime ?? this.options.clock()).toISOString();
      const buffer = this.buffers.pop() ?? Buffer.allocUnsafe(READ_CHUNK);
      try {
        const windows = retainedWindows(store);
        while (parse.parser.offset < stat.size) {
          // Bytes the log cap dropped are not parsed (they read as zeros): go on from the window,
          // a line start; the line begun before it is lost with the rest of it.
          const retained = await windows.from(id, 'stdout');
          if (parse.parser.offset < retained) parse.parser = new LineParser(Math.min(retained, stat.size));
          if (parse.parser.offset >= stat.size) break;
          const end = Math.min(stat.size, parse.parser.offset + READ_CHUNK);
          // The parser keeps copies of what it needs: the buffer is free again once push returns.
          const chunk = await guardLogRead(() => store.readLog(id, 'stdout', parse.parser.offset, end, buffer));
          // Checked after the read: a punch that raced it means it may hold zeros; read again.
          if (parse.parser.offset < (await windows.from(id, 'stdout'))) continue;
          if (chunk.length === 0) break;
          await this.index(parse, parse.parser.push(chunk), at);
        }
      } finally {
        if (this.buffers.length < MAX_SPARE_BUFFERS) this.buffers.push(buffer);
      }
      if (ended) {
        const last = parse.parser.flush();
        if (last) await this.index(parse, [last], at);
        parse.complete = true;
        parse.dirty = true;
      }
      if (parse.dirty && (ended || performance.now() - parse.savedAt >= (this.options.checkpointIntervalMs ?? CHECKPOINT_INTERVAL_MS))) {
        await this.save(parse);
      }
      return parse;
    } catch (err) {
      // What is in memory may be ahead of the disk now: the next call starts from the checkpoint.
      this.parses.delete(id);
      if (err instanceof IndexGapError) {
        this.options.log.warn({ id, err }, 'the message index of an agent session is shorter than its checkpoint: indexing again from the start');
        await this.options.index.remove(id).catch(() => undefined);
      }
      throw err;
    }
  }

  private async index(parse: Parse, facts: LineFact[], at: string): Promise<void> {
    if (facts.length === 0) return;
    const records = encodeRecords(facts, parse.names);
    await this.options.index.write(parse.id, parse.count, records);
    parse.count += facts.length;
    for (const fact of facts) parse.summary = foldMessage(parse.summary, fact.message, at);
    parse.dirty = true;
  }

  private async save(parse: Parse): Promise<void> {
    await this.options.index.save(parse.id, toCheckpoint(parse));
    parse.dirty = false;
    parse.savedAt = performance.now();
  }
}

function fresh(id: string): Parse {
  return {
    id,
    parser: new LineParser(0),
    count: 0,
    summary: emptySummary(),
    names: new NameTable([...INITIAL_NAMES]),
    complete: false,
    dirty: false,
    savedAt: -Infinity,
  };
}

function fromCheckpoint(id: string, checkpoint: AgentCheckpoint): Parse {
  return {
    id,
    parser: new LineParser(checkpoint.offset),
    count: checkpoint.count,
    summary: checkpoint.summary,
    names: new NameTable([...checkpoint.names]),
    complete: checkpoint.complete,
    dirty: false,
    savedAt: performance.now(),
  };
}

function toCheckpoint(parse: Parse): AgentCheckpoint {
  return {
    version: 1,
    offset: parse.parser.lineStart,
    count: parse.count,
    summary: parse.summary,
    names: [...parse.names.names],
    complete: parse.complete,
  };
}
