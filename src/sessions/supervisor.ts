// The supervisor: the service watches its sessions. It hears of ends from the process adapter's
// watch (never from a read), applies every observation through the pure transition under the
// session's lock, writes the record and appends the event. It keeps what reads need in memory:
// which sessions are live (an O(1) count), their last activity (from the log watch), and the
// waiters of /wait, which cost nothing while they wait.
import { EventEmitter } from 'node:events';
import type { AgentSummary } from '../../schemas/agent.js';
import type { EventType, LifecycleEvent } from '../../schemas/events.js';
import { isTerminalStatus, type Session, type SessionRecord } from '../../schemas/session.js';
import type { EventJournal } from '../events/journal.js';
import { KeyedLock } from '../keyed-lock.js';
import type { ProcessAdapter, ProcessState } from '../process/adapter.js';
import type { ListedRecord, SessionStore } from '../store/store.js';
import { sessionNotFound, storeFailure } from './errors.js';
import { eventFor, missingEvents } from './journal-catch-up.js';
import { findReport } from './report.js';
import { toSession } from './session-view.js';
import { transition, type Observation } from './transitions.js';

export interface SupervisorLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface SupervisorOptions {
  store: SessionStore;
  processes: ProcessAdapter;
  journal: EventJournal;
  log: SupervisorLog;
  clock: () => Date;
  /** The workspace roots: a report counts only if its folder still resolves inside one. */
  workspaceRoots?: readonly string[];
  /**
   * Called when an agent session has ended, before its end is recorded: parses the rest of its
   * stdout and answers the final summary, so `session.ended` carries it (the agent tracker).
   */
  agentFinal?: (record: SessionRecord) => Promise<AgentSummary | null>;
}

type Ended = Extract<ProcessState, { state: 'ended' }>;

/** How often records kept in memory (the store refused them) are tried again. */
const FLUSH_RETRY_MS = 2000;

/** What listeners of `changes` hear: every recorded event, after the record is written. */
export interface SessionChange {
  event: LifecycleEvent | null;
  type: EventType;
  session: Session;
}

export class Supervisor {
  /** Fires after every recorded change (streams listen to end themselves, metrics to count). */
  readonly changes = new EventEmitter<{ change: [SessionChange] }>();
  private readonly locks = new KeyedLock();
  private readonly backgroundWrites = new Set<Promise<void>>();
  /** Ids of sessions that are not final: their count is what SESSIOND_MAX_RUNNING limits. */
  private readonly live = new Set<string>();
  /** Last output seen per live session (ms since the epoch), from the log watch. */
  private readonly activity = new Map<string, number>();
  private readonly unwatchLogs = new Map<string, () => void>();
  /** /wait callers per session, released at the end, on timeout or when their client leaves. */
  private readonly waiters = new Map<string, Set<() => void>>();
  /**
   * Changes recorded but not yet written (the disk is full, or failing): reads answer from here,
   * and a timer writes them once the store takes writes again. Control never waits on the disk.
   */
  private readonly unwritten = new Map<string, SessionRecord>();
  private flushTimer: NodeJS.Timeout | null = null;
  private stopWatching: (() => void) | null = null;
  private closed = false;

  constructor(private readonly options: SupervisorOptions) {
    // Many streams listen at once; the default cap of 10 is a warning, not a limit we mean.
    this.changes.setMaxListeners(0);
  }

  private now(): string {
    return this.options.clock().toISOString();
  }

  /**
   * Called once at start-up, before the first request: watches the runtime, then reconciles
   * every live record once, so ends that happened while the service was down become events.
   */
  async start(): Promise<void> {
    const { processes, store } = this.options;
    // The promise is returned for adapters that want to know when the end is recorded (the fake).
    this.stopWatching = processes.watch((id, state) => this.onEnded(id, state));
    const records = await store.list();
    for (const record of await store.complete(await missingEvents(this.options.journal, records))) {
      this.options.log.warn({ id: record.id, status: record.status }, 'recording an event the service did not get to append before it stopped');
      await this.record(eventFor(record), record);
    }
    // Queued sessions have no process to look at: the service's queue starts them.
    const live = await store.complete(records.filter((record) => !isTerminalStatus(record.status) && record.status !== 'queued'));
    for (const record of live) {
      this.markLive(record);
      await this.reconcile(record).catch((err: unknown) => {
        this.options.log.error({ err, id: record.id }, 'could not reconcile a session at start-up');
      });
    }
  }

  private async reconcile(record: SessionRecord): Promise<void> {
    const { processes, store } = this.options;
    if (record.status === 'starting' && !record.handle) {
      // The service died between launching and recording the launch: adopt the process when it
      // was in fact started, else the session failed. Nothing is left pretending to start.
      const handle = await processes.find(record.id);
      if (handle) {
        this.options.log.warn({ id: record.id, pid: handle.pid }, 'adopted a session whose start was not recorded');
        await this.observe(record.id, { kind: 'launched', handle, pid: handle.pid ?? null });
        processes.track(record.id, handle);
      } else {
        await this.observe(record.id, { kind: 'failed', reason: 'the service stopped before the start was confirmed' });
      }
      return;
    }
    if (!record.handle) return;
    const state = await processes.inspect(record.handle);
    if (state.state === 'ended') await this.onEnded(record.id, state);
    else processes.track(record.id, record.handle);
  }

  /** A new record was written: `starting` counts as live from now on; `queued` waits. */
  async created(record: SessionRecord): Promise<void> {
    if (record.status === 'queued') {
      await this.record('session.created', record);
      await this.record('session.queued', record);
      return;
    }
    this.markLive(record);
    await this.record('session.created', record);
  }

  /** The process of `id` is confirmed running: record it and watch it. */
  async launched(id: string, observation: Extract<Observation, { kind: 'launched' }>): Promise<SessionRecord> {
    // The start's answer waits neither for the record's write nor for its started event, which
    // follows the write: the store answers reads with the running record at once. A crash of the
    // service or the machine before the write lands finds the session `starting` on disk with no
    // started event, and start-up adopts its keeper from keeper.json (one started event), or
    // fails it (the process died with the machine): as if the crash had come a moment earlier.
    // An fsync fewer on a start's path.
    const next = await this.observe(id, observation, { eventInBackground: true, durable: false, writeInBackground: true });
    if (next.status === 'running') this.options.processes.track(id, observation.handle);
    return next;
  }

  /** The process has ended (from the watch, a stop, or the start-up reconcile). */
  async onEnded(id: string, state: Ended): Promise<SessionRecord | undefined> {
    try {
      return await this.observe(id, async (current) => ({
        kind: 'ended',
        exit_code: state.exit_code,
        exit_signal: state.exit_signal,
        ended_at: state.ended_at,
        ...(state.reason !== undefined ? { reason: state.reason } : {}),
        // Looked up only when it decides the status, and before the lock's write.
        report:
          current.expects_report && !current.stop_requested_at
            ? (await findReport([current.working_directory, current.runtime_write_root], current.started_at, {
                roots: this.options.workspaceRoots,
              })) !== null
            : null,
        last_activity: await this.lastActivityOf(current),
        agent: await this.finalAgent(current),
      }));
    } catch (err) {
      // Deleted meanwhile: nothing to record. Anything else is logged; the next poll tries again.
      if ((err as { code?: string }).code !== 'session_not_found') this.options.log.error({ err, id }, 'could not record the end of a session');
      return undefined;
    }
  }

  /**
   * Applies one observation under the session's lock: the transition decides, the record is
   * written, then the event is appended. Returns the record as it stands afterwards.
   */
  async observe(
    id: string,
    observation: Observation | ((current: SessionRecord) => Promise<Observation> | Observation),
    options: { eventInBackground?: boolean; durable?: boolean; writeInBackground?: boolean } = {},
  ): Promise<SessionRecord> {
    const { store } = this.options;
    return this.locks.run(id, async () => {
      const current = this.unwritten.get(id) ?? (await store.get(id));
      if (!current) throw sessionNotFound(id);
      const seen = typeof observation === 'function' ? await observation(current) : observation;
      const change = transition(current, seen, this.now());
      if (!change) return current;
      // The record first, so whoever hears the event and reads the session sees the change.
      const written = this.write(change.record, options.durable !== false, options.writeInBackground === true);
      if (!options.writeInBackground) await written;
      if (isTerminalStatus(change.record.status)) this.ended(change.record);
      else if (change.record.status !== 'queued') this.markLive(change.record);
      const announce = (): Promise<void> | undefined => {
        if (!change.event) return undefined;
        // A summary update (once a second per agent session) is an event, not news for the log.
        if (seen.kind !== 'agent') {
          this.options.log.info(
            { id, status: change.record.status, exit_code: change.record.exit_code, exit_signal: change.record.exit_signal },
            change.event === 'session.ended' ? 'session ended' : 'session changed',
          );
        }
        // record() appends before its first await; it logs its own failure.
        return this.record(change.event, change.record);
      };
      if (options.writeInBackground) {
        // Readable from the store at once; the event follows the write, as it does under the lock
        // (a crash in between finds record and journal agreeing, so start-up adds no event twice).
        // The session's next write waits for this one (the store writes one session's in turn),
        // so the next event still comes after this one.
        this.inBackground(written.then(announce));
      } else {
        // Appended here, under the lock, so the journal has the session's events in order.
        const told = announce();
        if (!options.eventInBackground) await told;
      }
      return change.record;
    });
  }

  /**
   * Writes a record; when the store cannot take it (a full or failing disk) the change is kept in
   * memory, answered by reads, and written later: a stop must never wait for disk space.
   */
  private async write(record: SessionRecord, durable = true, readableAtOnce = false): Promise<void> {
    try {
      await this.options.store.put(record, { durable, readableAtOnce });
      this.unwritten.delete(record.id);
    } catch (err) {
      const failure = storeFailure(err, this.options.log);
      if (failure.code === 'session_not_found') throw failure;
      this.unwritten.set(record.id, record);
      this.options.log.error({ id: record.id, code: failure.code }, 'could not write a session record: kept in memory, written when the store takes writes again');
      this.scheduleFlush();
    }
  }

  private scheduleFlush(): void {
    if (this.flushTimer || this.closed) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      void this.flush();
    }, FLUSH_RETRY_MS);
    this.flushTimer.unref();
  }

  /** Writes what could not be written before; reschedules itself while anything is left. */
  private async flush(): Promise<void> {
    for (const id of [...this.unwritten.keys()]) {
      await this.locks.run(id, async () => {
        const record = this.unwritten.get(id);
        if (!record) return;
        try {
          await this.options.store.put(record);
          this.unwritten.delete(id);
          this.options.log.info({ id }, 'wrote a session record that had waited for the store');
        } catch (err) {
          // Deleted meanwhile: nothing to write. Otherwise it waits for the next round.
          if ((err as { code?: string }).code === 'not_found') this.unwritten.delete(id);
        }
      });
    }
    if (this.unwritten.size > 0) this.scheduleFlush();
  }

  /** The record as the service knows it: a change not yet written wins over the store's copy. */
  async current(id: string): Promise<SessionRecord | undefined> {
    return this.unwritten.get(id) ?? (await this.options.store.get(id));
  }

  /** Every record as the service knows it (for lists). */
  async currentAll(): Promise<ListedRecord[]> {
    const records = await this.options.store.list();
    if (this.unwritten.size === 0) return records;
    return records.map((record) => this.unwritten.get(record.id) ?? record);
  }

  /** Changes waiting for the store (for /readyz). */
  get unwrittenCount(): number {
    return this.unwritten.size;
  }

  /** The session was deleted: forget it and say so. */
  async deleted(record: SessionRecord): Promise<void> {
    this.unwritten.delete(record.id);
    this.ended(record);
    this.live.delete(record.id);
    await this.record('session.deleted', record);
  }

  /** Runs `work` under the session's lock (deletes, so no transition interleaves). */
  withLock<T>(id: string, work: () => Promise<T>): Promise<T> {
    return this.locks.run(id, work);
  }

  /** Sessions not yet final (starting or running): O(1). */
  liveCount(): number {
    return this.live.size;
  }

  /** The records of the live sessions (O(live), for the scheduler). */
  async liveRecords(): Promise<SessionRecord[]> {
    const out: SessionRecord[] = [];
    for (const id of this.live) {
      const record = await this.current(id);
      if (record) out.push(record);
    }
    return out;
  }

  /** The last output seen of a live session (ms since the epoch), or null. */
  lastActivityMs(id: string): number | null {
    return this.activity.get(id) ?? null;
  }

  /** The last output seen of a live session, or null (an ended one keeps it in its record). */
  lastActivity(id: string): string | null {
    const at = this.activity.get(id);
    return at === undefined ? null : new Date(at).toISOString();
  }

  /**
   * Resolves when the session has ended, `timeoutMs` passed or `signal` aborted, whichever is
   * first. Costs one entry in a map while it waits: no timer per poll, no process check.
   */
  waitForEnd(id: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const set = this.waiters.get(id) ?? new Set<() => void>();
      this.waiters.set(id, set);
      const release = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', release);
        set.delete(release);
        if (set.size === 0 && this.waiters.get(id) === set) this.waiters.delete(id);
        resolve();
      };
      const timer = setTimeout(release, timeoutMs);
      signal?.addEventListener('abort', release, { once: true });
      set.add(release);
      // Registered first, then checked: an end recorded in between releases it either way.
      void this.current(id).then(
        (record) => {
          if (!record || isTerminalStatus(record.status)) release();
        },
        () => release(),
      );
    });
  }

  /** Waiters held now (for tests and metrics). */
  get waiting(): number {
    let n = 0;
    for (const set of this.waiters.values()) n += set.size;
    return n;
  }

  /** Record writes under way after their answer (a launch's), followed to the end by close. */
  private inBackground(written: Promise<void>): void {
    const settled = written.catch(() => undefined); // deleted meanwhile: nothing to keep
    this.backgroundWrites.add(settled);
    void settled.finally(() => this.backgroundWrites.delete(settled));
  }

  /** Resolves once the record writes under way after their answer are done (before the store closes). */
  async writesDone(): Promise<void> {
    await Promise.all([...this.backgroundWrites]);
  }

  close(): void {
    this.closed = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    this.stopWatching?.();
    this.stopWatching = null;
    for (const off of this.unwatchLogs.values()) off();
    this.unwatchLogs.clear();
    for (const set of [...this.waiters.values()]) for (const release of [...set]) release();
    this.changes.removeAllListeners();
  }

  private async record(type: EventType, record: SessionRecord): Promise<void> {
    const session = this.view(record);
    let event: LifecycleEvent | null = null;
    try {
      event = await this.options.journal.append(type, session);
    } catch (err) {
      // The record is written and stays right; only the event is lost, and the log says so.
      this.options.log.error({ err, id: record.id, type }, 'could not append a lifecycle event');
    }
    this.changes.emit('change', { event, type, session });
  }

  /** The public view, with the live last_activity from the watch. */
  view(record: SessionRecord): Session {
    const session = toSession(record);
    if (!isTerminalStatus(record.status)) session.last_activity = this.lastActivity(record.id) ?? record.last_activity;
    return session;
  }

  private markLive(record: SessionRecord): void {
    if (this.live.has(record.id)) return;
    this.live.add(record.id);
    const { store } = this.options;
    const touch = (): void => {
      this.activity.set(record.id, this.options.clock().getTime());
    };
    // Activity is the log watch's news, not a stat per read; seeded once from the files.
    void this.seedActivity(record.id);
    const offs = [store.watchLog(record.id, 'stdout', touch), store.watchLog(record.id, 'stderr', touch)];
    this.unwatchLogs.set(record.id, () => offs.forEach((off) => off()));
  }

  private async seedActivity(id: string): Promise<void> {
    const { store } = this.options;
    const stats = await Promise.all([store.logStat(id, 'stdout'), store.logStat(id, 'stderr')]).catch(() => null);
    const times = (stats ?? []).map((s) => s.mtime?.getTime() ?? 0).filter((t) => t > 0);
    // Only if the watch has not seen something newer meanwhile.
    if (times.length > 0 && !this.activity.has(id) && this.live.has(id)) this.activity.set(id, Math.max(...times));
  }

  /** The final agent summary of an agent session; on a fault, the one recorded (the end is recorded regardless). */
  private async finalAgent(record: SessionRecord): Promise<AgentSummary | null> {
    const { agentFinal } = this.options;
    if (!agentFinal || record.agent === null) return record.agent;
    try {
      return (await agentFinal(record)) ?? record.agent;
    } catch (err) {
      this.options.log.error({ err, id: record.id }, 'could not parse the rest of an agent session’s output at its end');
      return record.agent;
    }
  }

  private async lastActivityOf(record: SessionRecord): Promise<string | null> {
    return this.lastActivity(record.id) ?? record.last_activity;
  }

  /** The session reached a final status (or is gone): stop watching it and release its waiters. */
  private ended(record: SessionRecord): void {
    this.live.delete(record.id);
    this.options.processes.untrack(record.id);
    this.unwatchLogs.get(record.id)?.();
    this.unwatchLogs.delete(record.id);
    this.activity.delete(record.id);
    for (const release of [...(this.waiters.get(record.id) ?? [])]) release();
  }
}
