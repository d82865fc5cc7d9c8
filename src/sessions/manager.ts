// SessionManager: the session lifecycle (start, reconcile, list, stop, wait, delete, logs, report).
// It knows sessions, not HTTP: it takes a store and a process adapter and throws SessionError.
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import fs from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { ListSessionsQuery, LogStreamName, StartSessionBody } from '../../schemas/requests.js';
import type { LogsTail } from '../../schemas/responses.js';
import {
  SessionSchema,
  isTerminalStatus,
  type Metadata,
  type Session,
  type SessionRecord,
  type SessionStatus,
} from '../../schemas/session.js';
import type { ProcessAdapter, ProcessState } from '../process/adapter.js';
import { LaunchError } from '../process/adapter.js';
import type { SessionStore } from '../store/store.js';
import { StoreError } from '../store/errors.js';
import { buildArgs, resolveAllowedCommand } from './commands.js';
import { SessionError, sessionNotFound } from './errors.js';
import { isSessionId, newSessionId } from './ids.js';
import { KeyedLock } from '../keyed-lock.js';
import { decodeCursor, encodeCursor, newestFirst } from './list-order.js';
import { resolveInsideRoots } from './paths.js';
import { findReport } from './report.js';
import { trimToUtf8Boundaries } from './utf8.js';

export interface ManagerConfig {
  allowedCommands: string[];
  workspaceRoots: string[];
  defaultCommand: string;
  stopGraceMs: number;
  maxRunning: number;
  childEnv: Record<string, string>;
}

/** The few logger methods the manager uses (pino's, or Fastify's logger, which is pino). */
export type ManagerLog = Pick<Logger, 'info' | 'warn' | 'error'>;

export interface ManagerOptions {
  store: SessionStore;
  processes: ProcessAdapter;
  config: ManagerConfig;
  log: ManagerLog;
  clock?: () => Date;
}

export interface RawLog {
  size: number;
  /** First and last byte sent (inclusive), or null for an empty log. */
  range: { start: number; end: number } | null;
  body: Readable;
}

const SESSION_KEYS = Object.keys(SessionSchema.properties) as Array<keyof Session>;
/** How long an Idempotency-Key is remembered. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;

export interface StartOptions {
  /** The Idempotency-Key header, if any. */
  idempotencyKey?: string;
  /** Who is asking (a non-secret token key): one caller's keys never match another's. */
  caller?: string;
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/** JSON with sorted keys, so two equal bodies hash alike whatever their key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
const START_LOCK = '\0start';
const ID_ATTEMPTS = 5;

const isTerminal = isTerminalStatus;

/** The public resource: the record without what only the service needs. */
export function toSession(record: SessionRecord): Session {
  const out = {} as Record<keyof Session, unknown>;
  for (const key of SESSION_KEYS) out[key] = record[key];
  return out as Session;
}

export class SessionManager {
  private readonly store: SessionStore;
  private readonly processes: ProcessAdapter;
  private readonly config: ManagerConfig;
  private readonly log: ManagerLog;
  private readonly clock: () => Date;
  private readonly locks = new KeyedLock();
  /** `status` fires with the session whenever a status change is written (streams listen). */
  readonly events = new EventEmitter<{ status: [Session] }>();
  /** Starts whose launch is under way in this process: their `starting` records are not stale. */
  private readonly launching = new Map<string, Promise<unknown>>();

  constructor(options: ManagerOptions) {
    this.store = options.store;
    this.processes = options.processes;
    this.config = options.config;
    this.log = options.log;
    this.clock = options.clock ?? (() => new Date());
  }

  private now(): string {
    return this.clock().toISOString();
  }

  /**
   * Starts a session. With an Idempotency-Key, a repeat of the same request within 24 hours
   * answers the session the first one started (`replayed`), and another body under the same
   * key is idempotency_conflict: a client may retry a start whose answer it never got.
   */
  async start(body: StartSessionBody, options: StartOptions = {}): Promise<{ session: Session; replayed: boolean }> {
    if (/[\u0000-\u001f\u007f]/.test(body.name) || body.name.trim() === '') {
      throw new SessionError('validation_failed', 'name must contain printable characters only');
    }
    const command = body.command ?? this.config.defaultCommand;
    const executable = await resolveAllowedCommand(command, this.config.allowedCommands, this.config.childEnv.PATH);
    const roots = this.config.workspaceRoots;
    const workingDirectory = await resolveInsideRoots('working_directory', body.working_directory, roots);
    const runtimeWriteRoot = body.runtime_write_root
      ? await resolveInsideRoots('runtime_write_root', body.runtime_write_root, roots)
      : null;
    const args = buildArgs(command, body);

    // Counting live sessions and writing the new record happen under one lock, so a burst of
    // starts cannot overshoot SESSIOND_MAX_RUNNING.
    const idempotency = options.idempotencyKey
      ? { key: sha256(`${options.caller ?? ''}\0${options.idempotencyKey}`), request: sha256(canonical(body)) }
      : null;
    const outcome = await this.locks.run(START_LOCK, async () => {
      if (idempotency) {
        const earlier = await this.findByIdempotencyKey(idempotency.key);
        if (earlier) {
          if (earlier.idempotency?.request !== idempotency.request) {
            throw new SessionError('idempotency_conflict', 'this Idempotency-Key was used with a different request body');
          }
          return { replay: earlier };
        }
      }
      const live = (await this.store.list()).filter((r) => !isTerminal(r.status));
      const alive = await Promise.all(live.map((r) => this.reconcile(r)));
      if (alive.filter((r) => !isTerminal(r.status)).length >= this.config.maxRunning) {
        throw new SessionError('limit_exceeded', `at most ${this.config.maxRunning} sessions may run at once (SESSIOND_MAX_RUNNING)`);
      }
      const record = await this.createRecord(body, command, args, workingDirectory, runtimeWriteRoot, idempotency);
      // Registered under the lock, so a retry with the same key waits for this launch.
      const launch = this.launch(record, executable);
      this.launching.set(record.id, launch);
      return { launch, id: record.id };
    });
    if (outcome.replay) return { session: toSession(await this.settled(outcome.replay.id)), replayed: true };
    try {
      return { session: toSession(await this.reconcile(await outcome.launch)), replayed: false };
    } finally {
      this.launching.delete(outcome.id);
    }
  }

  private async findByIdempotencyKey(key: string): Promise<SessionRecord | undefined> {
    const since = this.clock().getTime() - IDEMPOTENCY_WINDOW_MS;
    return (await this.store.list()).find((r) => r.idempotency?.key === key && Date.parse(r.started_at) >= since);
  }

  /**
   * Called once at start-up: a session left in `starting` without a handle (the service died
   * between launching and recording it) is adopted when its process was in fact started, and
   * `failed` with the reason when it was not. Nothing is left pretending to start.
   */
  async recover(): Promise<void> {
    for (const record of await this.store.list()) {
      if (record.status !== 'starting' || record.handle) continue;
      const handle = await this.processes.recover(this.store.logLocation(record.id).stateDir);
      if (handle) {
        await this.locks.run(record.id, () => this.store.put({ ...record, status: 'running', pid: handle.pid, handle }));
        this.log.warn({ id: record.id, pid: handle.pid }, 'adopted a session whose start was not recorded');
      } else {
        await this.finish(record.id, () => ({
          status: 'failed',
          status_reason: 'the service stopped before the start was confirmed',
          stopped_at: this.now(),
        }));
      }
    }
  }

  private async createRecord(
    body: StartSessionBody,
    command: string,
    args: string[],
    workingDirectory: string,
    runtimeWriteRoot: string | null,
    idempotency: SessionRecord['idempotency'],
  ): Promise<SessionRecord> {
    for (let attempt = 1; ; attempt++) {
      const now = this.clock();
      const id = newSessionId(body.name, now);
      const logs = this.store.logLocation(id);
      const record: SessionRecord = {
        id,
        name: body.name,
        executive: body.executive ?? 'Unassigned',
        status: 'starting',
        status_reason: null,
        pid: null,
        started_at: now.toISOString(),
        stopped_at: null,
        exit_code: null,
        exit_signal: null,
        working_directory: workingDirectory,
        branch: body.branch ?? null,
        mission_id: body.mission_id ?? null,
        assignment_id: body.assignment_id ?? null,
        log_path: logs.stdout,
        stderr_path: logs.stderr,
        last_activity: null,
        command,
        args,
        permission_mode: body.permission_mode ?? null,
        allowed_tools: body.allowed_tools ?? null,
        runtime_write_root: runtimeWriteRoot,
        repository_write_allowed: body.repository_write_allowed ?? true,
        expects_report: body.expects_report ?? false,
        handle: null,
        stop_requested_at: null,
        idempotency,
        labels: body.labels ?? {},
        stop_reason: null,
      };
      const metadata: Metadata = {
        id,
        name: record.name,
        executive: record.executive,
        mission_id: record.mission_id,
        assignment_id: record.assignment_id,
        working_directory: workingDirectory,
        branch: record.branch,
        command,
        args,
        prompt: body.prompt ?? null,
        created_at: record.started_at,
        created_by: body.created_by ?? 'HQ01 operator',
      };
      try {
        await this.store.create(record, metadata);
        return record;
      } catch (err) {
        if (err instanceof StoreError && err.code === 'exists' && attempt < ID_ATTEMPTS) continue;
        throw this.storeFailure(err);
      }
    }
  }

  /** Spawns the process and records the outcome: `running` with its handle, or `failed` with the reason. */
  private async launch(record: SessionRecord, executable: string): Promise<SessionRecord> {
    const location = this.store.logLocation(record.id);
    let outcome: Partial<SessionRecord>;
    try {
      const handle = await this.processes.launch({
        sessionId: record.id,
        command: executable,
        args: record.args,
        cwd: record.working_directory,
        env: { ...this.config.childEnv },
        stdoutPath: location.stdout,
        stderrPath: location.stderr,
        stateDir: location.stateDir,
      });
      outcome = { status: 'running', pid: handle.pid, handle };
    } catch (err) {
      const reason = err instanceof LaunchError ? err.message : 'the process could not be started';
      if (!(err instanceof LaunchError)) this.log.error({ err, id: record.id }, 'launch failed unexpectedly');
      outcome = { status: 'failed', status_reason: reason, stopped_at: this.now() };
    }
    return this.locks.run(record.id, async () => {
      const current = (await this.store.get(record.id)) ?? record;
      const next = { ...current, ...outcome };
      await this.store.put(next).catch((err: unknown) => {
        throw this.storeFailure(err);
      });
      this.log.info({ id: record.id, status: next.status, pid: next.pid }, 'session started');
      this.events.emit('status', toSession(next));
      return next;
    });
  }

  /** The record with its status brought in line with the real process (persisted when it changed). */
  private async reconcile(record: SessionRecord): Promise<SessionRecord> {
    if (isTerminal(record.status)) return record;
    if (record.status === 'starting' && this.launching.has(record.id)) return record;
    if (record.status === 'starting' && !record.handle) {
      return this.finish(record.id, () => ({
        status: 'failed',
        status_reason: 'the service stopped before the start was confirmed',
        stopped_at: this.now(),
      }));
    }
    const state = record.handle ? await this.processes.inspect(record.handle) : null;
    if (state?.state === 'running') {
      return { ...record, last_activity: await this.lastActivity(record.id) };
    }
    return this.finish(record.id, (current) => this.endedFields(current, state));
  }

  /** Applies a terminal change under the session's lock, unless someone else already ended it. */
  private async finish(
    id: string,
    change: (current: SessionRecord) => Promise<Partial<SessionRecord>> | Partial<SessionRecord>,
  ): Promise<SessionRecord> {
    return this.locks.run(id, async () => {
      const current = await this.store.get(id);
      if (!current) throw sessionNotFound(id);
      if (isTerminal(current.status)) return current;
      const next = { ...current, ...(await change(current)) };
      await this.store.put(next).catch((err: unknown) => {
        throw this.storeFailure(err);
      });
      this.log.info({ id, status: next.status, exit_code: next.exit_code, exit_signal: next.exit_signal }, 'session ended');
      this.events.emit('status', toSession(next));
      return next;
    });
  }

  private async endedFields(record: SessionRecord, state: ProcessState | null): Promise<Partial<SessionRecord>> {
    const ended = state?.state === 'ended' ? state : null;
    let status: SessionStatus;
    if (record.stop_requested_at) {
      status = record.expects_report ? 'terminated' : 'stopped';
    } else if (record.expects_report) {
      const report = await findReport([record.working_directory, record.runtime_write_root], record.started_at);
      status = report ? 'completed' : 'completed_missing_report';
    } else {
      status = 'exited';
    }
    const unknownExit = !ended || (ended.exit_code === null && ended.exit_signal === null);
    return {
      status,
      status_reason: unknownExit ? 'the process ended without a recorded exit status' : null,
      exit_code: ended?.exit_code ?? null,
      exit_signal: ended?.exit_signal ?? null,
      stopped_at: ended?.ended_at ?? this.now(),
      last_activity: await this.lastActivity(record.id),
    };
  }

  private async lastActivity(id: string): Promise<string | null> {
    const [out, err] = await Promise.all([this.store.logStat(id, 'stdout'), this.store.logStat(id, 'stderr')]);
    const times = [out.mtime, err.mtime].filter((t): t is Date => t !== null).map((t) => t.getTime());
    return times.length > 0 ? new Date(Math.max(...times)).toISOString() : null;
  }

  private async load(id: string): Promise<SessionRecord> {
    // Ids are checked before any file is touched; a malformed one simply does not exist.
    if (!isSessionId(id)) throw sessionNotFound(id);
    const record = await this.store.get(id);
    if (!record && this.store.isDamaged(id)) {
      throw new SessionError('session_damaged', `the record of session ${id} is damaged and cannot be read; the service log says why`);
    }
    if (!record) throw sessionNotFound(id);
    return record;
  }

  /** Waits for a launch under way in this process, so callers never act on a half-started session. */
  private async settled(id: string): Promise<SessionRecord> {
    await this.launching.get(id)?.catch(() => undefined);
    return this.reconcile(await this.load(id));
  }

  async get(id: string): Promise<Session> {
    return toSession(await this.reconcile(await this.load(id)));
  }

  async metadata(id: string): Promise<Metadata> {
    await this.load(id);
    const metadata = await this.store.getMetadata(id);
    if (!metadata) throw sessionNotFound(id);
    return metadata;
  }

  async list(query: ListSessionsQuery): Promise<{ items: Session[]; next_cursor: string | null }> {
    const after = query.cursor === undefined ? null : decodeCursor(query.cursor);
    const records = await Promise.all((await this.store.list()).map((r) => this.reconcile(r)));
    const statuses = query.status && query.status.length > 0 ? new Set(query.status) : null;
    const matching = records
      .filter((r) => !statuses || statuses.has(r.status))
      .filter((r) => query.executive === undefined || r.executive === query.executive)
      .filter((r) => query.mission_id === undefined || r.mission_id === query.mission_id)
      .filter((r) => query.assignment_id === undefined || r.assignment_id === query.assignment_id)
      .sort(newestFirst)
      .filter((r) => !after || newestFirst(r, after) > 0);
    const page = matching.slice(0, query.limit);
    const last = page[page.length - 1];
    const more = matching.length > page.length && last !== undefined;
    return { items: page.map(toSession), next_cursor: more ? encodeCursor(last) : null };
  }

  async stop(id: string, graceMs = this.config.stopGraceMs): Promise<Session> {
    const record = await this.settled(id);
    if (isTerminal(record.status) || !record.handle) return toSession(record);
    const marked = await this.locks.run(id, async () => {
      const current = await this.store.get(id);
      if (!current || isTerminal(current.status)) return current;
      const next = { ...current, stop_requested_at: current.stop_requested_at ?? this.now() };
      await this.store.put(next).catch((err: unknown) => {
        throw this.storeFailure(err);
      });
      return next;
    });
    if (!marked) throw sessionNotFound(id);
    if (isTerminal(marked.status) || !marked.handle) return toSession(marked);
    this.log.info({ id, grace_ms: graceMs }, 'stopping session');
    const state = await this.processes.terminate(marked.handle, graceMs);
    return toSession(await this.finish(id, (current) => this.endedFields(current, state)));
  }

  async wait(id: string, timeoutMs: number): Promise<Session> {
    const record = await this.settled(id);
    if (isTerminal(record.status) || !record.handle) return toSession(record);
    const state = await this.processes.waitForExit(record.handle, timeoutMs);
    if (state.state === 'running') return this.get(id);
    return toSession(await this.finish(id, (current) => this.endedFields(current, state)));
  }

  async delete(id: string, force: boolean): Promise<void> {
    if (force && isSessionId(id) && this.store.isDamaged(id)) {
      // An unreadable record cannot be stopped through its handle; with force the operator
      // clears it (its process, if any, is left alone: we cannot tell which it is).
      await this.locks.run(id, () => this.store.delete(id));
      this.log.warn({ id }, 'deleted a damaged session record');
      return;
    }
    const record = await this.settled(id);
    if (!isTerminal(record.status)) {
      if (!force) {
        throw new SessionError('session_running', `session ${id} is ${record.status}; stop it first or pass ?force=true`);
      }
      await this.stop(id);
    }
    await this.locks.run(id, () => this.store.delete(id)).catch((err: unknown) => {
      throw this.storeFailure(err);
    });
    this.log.info({ id }, 'session deleted');
  }

  async tail(id: string, tailBytes: number): Promise<LogsTail> {
    const record = await this.reconcile(await this.load(id));
    const read = async (stream: LogStreamName) => {
      const { size } = await this.store.logStat(id, stream);
      const bytes = await this.store.readLog(id, stream, Math.max(0, size - tailBytes), size);
      return { size, text: trimToUtf8Boundaries(bytes).toString('utf8') };
    };
    const [stdout, stderr] = await Promise.all([read('stdout'), read('stderr')]);
    return {
      id,
      status: record.status,
      last_activity: record.last_activity,
      stdout: stdout.text,
      stderr: stderr.text,
      stdout_bytes: stdout.size,
      stderr_bytes: stderr.size,
    };
  }

  /**
   * A raw log's bytes, all of them or one range (`start`/`end` inclusive, as in HTTP; `suffix`
   * for the last N bytes). Throws range_not_satisfiable when the range lies past the end.
   */
  async rawLog(
    id: string,
    stream: LogStreamName,
    range?: { start?: number; end?: number; suffix?: number },
  ): Promise<RawLog> {
    await this.load(id);
    const { size } = await this.store.logStat(id, stream);
    let start = 0;
    let end = size - 1;
    if (range) {
      if (range.suffix !== undefined) {
        start = Math.max(0, size - range.suffix);
      } else {
        start = range.start ?? 0;
        end = Math.min(range.end ?? size - 1, size - 1);
      }
      if (start >= size || (range.suffix !== undefined && range.suffix === 0)) {
        throw new SessionError('range_not_satisfiable', `the ${stream} log has ${size} bytes`, {
          headers: { 'content-range': `bytes */${size}` },
        });
      }
    }
    if (size === 0) return { size, range: null, body: this.store.openLogStream(id, stream, 0, 0) };
    return { size, range: { start, end }, body: this.store.openLogStream(id, stream, start, end + 1) };
  }

  async report(id: string): Promise<string> {
    const record = await this.load(id);
    const found = await findReport([record.working_directory, record.runtime_write_root], record.started_at);
    if (!found) throw new SessionError('report_not_found', `session ${id} has no report.md`);
    try {
      return await fs.readFile(found, 'utf8');
    } catch {
      // It vanished or became unreadable between the look-up and the read: there is no report.
      throw new SessionError('report_not_found', `session ${id} has no readable report.md`);
    }
  }

  /** Store faults become coded API errors; the cause goes to the log, not to the client. */
  private storeFailure(err: unknown): Error {
    if (err instanceof SessionError) return err;
    if (err instanceof StoreError && err.code === 'not_found') return new SessionError('session_not_found', err.message);
    this.log.error({ err }, 'store failure');
    const cause = (err as { cause?: { code?: string } } | null)?.cause;
    if (cause?.code === 'ENOSPC' || (err as { code?: string } | null)?.code === 'ENOSPC') {
      return new SessionError('insufficient_storage', 'the data directory is out of space');
    }
    return new SessionError('unavailable', 'the session store could not be written');
  }
}
