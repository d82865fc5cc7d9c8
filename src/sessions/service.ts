// SessionService: what the routes call. It admits and launches starts, answers reads from what
// the service already knows (the store's index and the supervisor), and turns stops, waits and
// deletes into observations for the supervisor. It knows sessions, not HTTP.
import { Readable } from 'node:stream';
import type { ContinueSessionBody, ListSessionsQuery, LogStreamName, StartSessionBody } from '../../schemas/requests.js';
import type { LogsTail } from '../../schemas/responses.js';
import { isTerminalStatus, type Metadata, type Session, type SessionRecord } from '../../schemas/session.js';
import { LaunchError, type ProcessAdapter } from '../process/adapter.js';
import { StoreError } from '../store/errors.js';
import type { SessionStore } from '../store/store.js';
import { KeyedLock } from '../keyed-lock.js';
import { DEFAULT_MAX_REPORT_BYTES } from '../config.js';
import { admit, replan, type Prepare, type AdmissionConfig, type LaunchPlan } from './admission.js';
import { initialInput, type Resume } from './commands.js';
import { containerOptions } from './container-options.js';
import { AGENT_INPUT_MAX_BYTES, inputLine } from '../agent/input-message.js';
import type { AgentInputBody } from '../../schemas/agent.js';
import { SessionError, sessionNotFound, storeFailure } from './errors.js';
import { IdempotencyIndex, idempotencyDigest, type IdempotencyDigest } from './idempotency.js';
import { isSessionId, newSessionId } from './ids.js';
import { newRecord, type LimitDefaults } from './new-record.js';
import { belowFloor } from './disk-floor.js';
import { SessionQueue } from './queue.js';
import type { StopReason } from './transitions.js';
import { listPage, sortedSource } from './queries.js';
import { openReport } from './report.js';
import { readRaw, readTail, type RangeRequest, type RawLog } from './session-logs.js';
import type { Supervisor, SupervisorLog } from './supervisor.js';
import { createViewCache } from './view-cache.js';

export type { RawLog };

export interface ServiceConfig extends AdmissionConfig, LimitDefaults {
  /** The sessions' filtered environment. */
  childEnv: Record<string, string>;
  workspaceRoots: string[];
  stopGraceMs: number;
  maxRunning: number;
  dataDir: string;
  minFreeBytes: number;
  /** SESSIOND_MAX_REPORT_BYTES; absent: the default. */
  maxReportBytes?: number;
}

export interface SessionServiceOptions {
  store: SessionStore;
  processes: ProcessAdapter;
  supervisor: Supervisor;
  config: ServiceConfig;
  log: SupervisorLog;
  clock: () => Date;
  /** Told how long each successful start took, request to confirmed running (metrics). */
  onStarted?: (seconds: number) => void;
}

export interface StartOptions {
  /** The Idempotency-Key header, if any. */
  idempotencyKey?: string;
  /** Who is asking (a non-secret token key): one caller's keys never match another's. */
  caller?: string;
  /** The start continues an agent session (POST .../continue): the parent, and what claude resumes. */
  continuation?: { parentId: string; resume: Resume };
}

const START_LOCK = '\0start';
const ID_ATTEMPTS = 5;

export class SessionService {
  private readonly startLock = new KeyedLock();
  /** One input at a time per session: two messages never interleave in the pipe. */
  private readonly inputLock = new KeyedLock();
  private readonly idempotency = new IdempotencyIndex();
  /** Sessions waiting for capacity, in the order they will start. */
  private readonly queue = new SessionQueue();
  /** Starts whose launch is under way in this process, so a replay or a stop waits for them. */
  private readonly launching = new Map<string, Promise<unknown>>();

  private readonly views;

  constructor(private readonly options: SessionServiceOptions) {
    this.views = createViewCache((record) => options.supervisor.view(record));
  }

  /** The runtime's checks of a command and its directories, in its own world. */
  private readonly prepare: Prepare = (request) => this.options.processes.prepare(request);

  /** Called once at start-up, after the store is loaded. */
  async init(): Promise<void> {
    for (const record of await this.options.store.list()) {
      this.idempotency.add(record);
      if (record.status === 'queued') this.queue.add(record);
    }
    // Capacity frees when a session ends or goes: the queue moves on by itself.
    this.options.supervisor.changes.on('change', ({ type, session }) => {
      if (type !== 'session.ended' && type !== 'session.deleted') return;
      this.queue.remove(session.id);
      void this.drain();
    });
  }

  /** Sessions waiting for capacity now. */
  get queueLength(): number {
    return this.queue.size;
  }

  /** Starts queued sessions while there is capacity (after an end, a stop, a delete, a restart). */
  async drain(): Promise<void> {
    await this.startLock.run(START_LOCK, () => this.admitQueued()).catch((err: unknown) => {
      this.options.log.error({ err }, 'could not start a queued session');
    });
  }

  /** Under the start lock: queued sessions take free places first, highest priority, then oldest. */
  private async admitQueued(): Promise<void> {
    const { supervisor, config } = this.options;
    for (let id = this.queue.peek(); id !== undefined && supervisor.liveCount() < config.maxRunning; id = this.queue.peek()) {
      this.queue.remove(id);
      const record = await supervisor.observe(id, { kind: 'admitted' }).catch(() => null);
      if (record?.status !== 'starting') continue; // stopped or deleted meanwhile
      const launch = replan(record, config, this.prepare).then(
        (plan) => this.launch(record, plan),
        (err: unknown) =>
          supervisor.observe(id, {
            kind: 'failed',
            reason: err instanceof SessionError ? `when its turn came: ${err.detail}` : 'the queued session could not be started',
          }),
      );
      this.launching.set(id, launch);
      void launch.finally(() => this.launching.delete(id)).catch(() => undefined);
    }
  }

  private get store(): SessionStore {
    return this.options.store;
  }

  /**
   * Starts a session. With an Idempotency-Key, a repeat of the same request within 24 hours
   * answers the session the first one started (`replayed`), and another body under the same
   * key is idempotency_conflict: a client may retry a start whose answer it never got.
   */
  async start(body: StartSessionBody, options: StartOptions = {}): Promise<{ session: Session; replayed: boolean; queued: boolean }> {
    const began = performance.now();
    const { continuation } = options;
    const plan = await admit(body, this.options.config, this.prepare, continuation?.resume);
    const refusal = await belowFloor(this.options.config.dataDir, this.options.config.minFreeBytes).catch(() => null);
    if (refusal) throw new SessionError('insufficient_storage', refusal);
    // A continue's key covers its parent and fork too, not only the body it was turned into.
    const request = continuation ? { continuation, body } : body;
    const digest = options.idempotencyKey ? idempotencyDigest(options.idempotencyKey, options.caller, request) : null;
    // Counting live sessions and writing the new record happen under one lock, so a burst of
    // starts cannot overshoot SESSIOND_MAX_RUNNING. The count is O(1): the supervisor keeps it.
    const outcome = await this.startLock.run(START_LOCK, async () => {
      if (digest) {
        const earlier = this.idempotency.find(digest.key, this.options.clock());
        if (earlier) {
          if (earlier.request !== digest.request) {
            throw new SessionError('idempotency_conflict', 'this Idempotency-Key was used with a different request body');
          }
          return { replay: earlier.id };
        }
      }
      // Sessions already waiting get the free places first.
      await this.admitQueued();
      const { maxRunning } = this.options.config;
      const full = this.options.supervisor.liveCount() >= maxRunning;
      if (full && !body.queue) {
        throw new SessionError('limit_exceeded', `at most ${maxRunning} sessions may run at once (SESSIOND_MAX_RUNNING); pass "queue": true to wait for a place`);
      }
      const { record, told } = await this.create(body, plan, digest, full, continuation?.parentId ?? null);
      if (full) {
        this.queue.add(record);
        return { queued: record };
      }
      // Registered under the lock, so a retry with the same key waits for this launch.
      const launch = this.launch(record, plan);
      this.launching.set(record.id, launch);
      return { launch, id: record.id, told };
    });
    if (outcome.replay !== undefined) {
      const session = await this.settledView(outcome.replay);
      return { session, replayed: true, queued: session.status === 'queued' };
    }
    if (outcome.queued) return { session: this.options.supervisor.view(outcome.queued), replayed: false, queued: true };
    try {
      const record = await outcome.launch;
      // The created event is in the journal before the answer (its append ran alongside the
      // launch), so a crash after the answer cannot lose it.
      await outcome.told;
      if (record.status === 'running') this.options.onStarted?.((performance.now() - began) / 1000);
      // As the index has it now: a quick command may have ended already.
      return { session: await this.get(record.id).catch(() => this.options.supervisor.view(record)), replayed: false, queued: false };
    } finally {
      this.launching.delete(outcome.id);
    }
  }

  private async create(
    body: StartSessionBody,
    plan: LaunchPlan,
    digest: IdempotencyDigest | null,
    queued: boolean,
    parentId: string | null,
  ): Promise<{ record: SessionRecord; told: Promise<void> }> {
    for (let attempt = 1; ; attempt++) {
      const now = this.options.clock();
      const id = newSessionId(body.name, now);
      const { record, metadata } = newRecord(id, now, body, plan, this.store.logLocation(id), digest, {
        queued,
        defaults: this.options.config,
        parentId,
      });
      try {
        await this.store.create(record, metadata);
      } catch (err) {
        if (err instanceof StoreError && err.code === 'exists' && attempt < ID_ATTEMPTS) continue;
        throw storeFailure(err, this.options.log);
      }
      this.idempotency.add(record);
      // A session about to launch is counted live at once (inside created, before its first
      // await); its created event need not hold the launch up: the journal keeps the order of
      // appends, so it still comes before started; the answer waits for it. Its failure is logged inside.
      const told = this.options.supervisor.created(record);
      if (queued) await told;
      return { record, told };
    }
  }

  /** Spawns the process and records the outcome through the supervisor: running, or failed. */
  private async launch(record: SessionRecord, plan: LaunchPlan): Promise<SessionRecord> {
    const { supervisor } = this.options;
    try {
      // An agent with input gets its prompt as the first message on stdin (kept in the metadata).
      const prompt = record.agent_options?.input === true ? (await this.store.getMetadata(record.id))?.prompt : null;
      const handle = await this.options.processes.launch({
        sessionId: record.id,
        command: plan.executable,
        args: record.args,
        cwd: record.working_directory,
        env: { ...this.options.config.childEnv },
        input: record.agent_options?.input === true,
        initialInput: initialInput(record.agent_options, prompt),
        runtime: record.runtime,
        ...(record.runtime === 'docker' ? { container: containerOptions(record) } : {}),
      });
      return await supervisor.launched(record.id, { kind: 'launched', handle, pid: handle.pid ?? null });
    } catch (err) {
      if (err instanceof SessionError) throw err;
      const reason = err instanceof LaunchError ? err.message : 'the process could not be started';
      if (!(err instanceof LaunchError)) this.options.log.error({ err, id: record.id }, 'launch failed unexpectedly');
      return supervisor.observe(record.id, { kind: 'failed', reason });
    }
  }

  /**
   * Starts a new session that resumes the agent conversation of session `id` (ended) with the
   * next prompt: `claude --resume <its agent session id>` (and `--fork-session` with `fork`), in
   * the same working directory with the same command, options and agent settings; `parent_id` says
   * where it comes from.
   */
  async continue(id: string, body: ContinueSessionBody, options: StartOptions = {}): Promise<{ session: Session; replayed: boolean; queued: boolean }> {
    const parent = await this.settled(id);
    if (!isTerminalStatus(parent.status)) {
      throw new SessionError('session_running', `session ${id} is ${parent.status}; it can be continued once it has ended`);
    }
    const agentSessionId = parent.agent?.session_id ?? null;
    if (agentSessionId === null) {
      throw new SessionError(
        'agent_session_unknown',
        parent.agent
          ? `session ${id} has no agent session id: claude wrote no system/init message with one`
          : `session ${id} was not started with agent.stream_json, so its agent session id is unknown`,
      );
    }
    const start: StartSessionBody = {
      name: body.name ?? parent.name,
      working_directory: parent.working_directory,
      command: parent.command,
      prompt: body.prompt,
      executive: parent.executive,
      ...(parent.mission_id !== null && { mission_id: parent.mission_id }),
      ...(parent.assignment_id !== null && { assignment_id: parent.assignment_id }),
      ...(parent.branch !== null && { branch: parent.branch }),
      ...(parent.permission_mode !== null && { permission_mode: parent.permission_mode }),
      ...(parent.allowed_tools !== null && { allowed_tools: parent.allowed_tools }),
      ...(parent.runtime_write_root !== null && { runtime_write_root: parent.runtime_write_root }),
      repository_write_allowed: parent.repository_write_allowed,
      expects_report: parent.expects_report,
      labels: body.labels ?? parent.labels,
      // Absent: the parent's limits (a parent without a time limit: the default; without idle limit: none).
      ...((body.max_runtime_ms ?? parent.max_runtime_ms) !== null && { max_runtime_ms: body.max_runtime_ms ?? (parent.max_runtime_ms as number) }),
      idle_timeout_ms: body.idle_timeout_ms ?? parent.idle_timeout_ms ?? 0,
      priority: parent.priority,
      agent: parent.agent_options ?? { kind: 'claude', stream_json: true, input: false },
    };
    return this.start(start, { ...options, continuation: { parentId: parent.id, resume: { sessionId: agentSessionId, fork: body.fork ?? false } } });
  }

  /**
   * SIGINT to the session's process group: an agent stops its current turn. The session goes on
   * unless the process exits. session_not_running when there is no process to interrupt.
   */
  async interrupt(id: string): Promise<Session> {
    const record = await this.settled(id);
    if (record.status !== 'running' || !record.handle) {
      throw new SessionError('session_not_running', `session ${id} is ${record.status}: there is no process to interrupt`);
    }
    const sent = await this.options.processes.signal(record.handle, 'SIGINT');
    if (!sent) throw new SessionError('session_not_running', `the process of session ${id} has ended`);
    this.options.log.info({ id }, 'interrupted session (SIGINT to its process group)');
    return this.get(id);
  }

  /**
   * Writes one user message to an agent session's stdin (started with agent.input), whole, one at
   * a time per session. Works after a restart of the service: the keeper holds the pipe.
   */
  async input(id: string, body: AgentInputBody): Promise<Session> {
    const line = Buffer.from(inputLine(body));
    if (line.length > AGENT_INPUT_MAX_BYTES) {
      throw new SessionError('payload_too_large', `an input message is at most ${AGENT_INPUT_MAX_BYTES} bytes as a stream-json line; this one is ${line.length}`);
    }
    const record = await this.settled(id);
    if (record.agent_options?.input !== true) {
      throw new SessionError('session_not_interactive', `session ${id} was not started with agent.input: its stdin is empty, not a pipe`);
    }
    if (record.status !== 'running' || !record.handle) {
      throw new SessionError('session_not_running', `session ${id} is ${record.status}: there is no process to take input`);
    }
    const handle = record.handle;
    const outcome = await this.inputLock.run(id, () => this.options.processes.writeInput(handle, line));
    if (outcome === 'ended') throw new SessionError('session_not_running', `the process of session ${id} has ended: input is no longer read`);
    if (outcome === 'not_interactive') throw new SessionError('session_not_interactive', `session ${id} has no stdin pipe`);
    if (outcome === 'busy') throw new SessionError('input_busy', `session ${id} is not reading its input: the pipe stayed full; try again later`);
    this.options.log.info({ id, bytes: line.length }, 'wrote input to session');
    return this.get(id);
  }

  private async load(id: string): Promise<SessionRecord> {
    // Ids are checked before any file is touched; a malformed one simply does not exist.
    if (!isSessionId(id)) throw sessionNotFound(id);
    const record = await this.options.supervisor.current(id);
    if (!record && this.store.isDamaged(id)) {
      throw new SessionError('session_damaged', `the record of session ${id} is damaged and cannot be read; the service log says why`);
    }
    if (!record) throw sessionNotFound(id);
    return record;
  }

  /** Waits for a launch under way in this process, so callers never act on a half-started session. */
  private async settled(id: string): Promise<SessionRecord> {
    await this.launching.get(id)?.catch(() => undefined);
    return this.load(id);
  }

  private async settledView(id: string): Promise<Session> {
    return this.options.supervisor.view(await this.settled(id));
  }

  async get(id: string): Promise<Session> {
    return this.options.supervisor.view(await this.load(id));
  }

  /** The session as JSON text, for the hot GET route: serialised once per change, not per read. */
  async getJson(id: string): Promise<string> {
    return this.views.json(await this.load(id));
  }

  async metadata(id: string): Promise<Metadata> {
    await this.load(id);
    const metadata = await this.store.getMetadata(id);
    if (!metadata) throw sessionNotFound(id);
    return metadata;
  }

  /**
   * A page from the store's sorted indexes: O(page), plus the records of its narrowest filter's
   * order that its other filters skip (src/sessions/queries.ts). While some change is
   * kept in memory only (the store refused it), that change must win, so the page is made the
   * slow way from every record as the supervisor knows it (rare: a full or failing disk).
   */
  async list(query: ListSessionsQuery): Promise<{ items: Session[]; next_cursor: string | null }> {
    const { supervisor } = this.options;
    const { store } = this;
    const source = supervisor.unwrittenCount === 0 ? { newestFirst: store.ordered.bind(store), count: store.orderedCount.bind(store) } : sortedSource(await supervisor.currentAll());
    const page = listPage(source, query);
    return { items: (await store.complete(page.items)).map((r) => supervisor.view(r)), next_cursor: page.next_cursor };
  }

  /**
   * Asks the session to end: SIGTERM to its group, SIGKILL after the grace. Idempotent. A queued
   * session ends at once (no process). `reason` is the API's request, or a limit's.
   */
  async stop(id: string, graceMs = this.options.config.stopGraceMs, reason: StopReason = 'requested'): Promise<Session> {
    const { supervisor } = this.options;
    const record = await this.settled(id);
    if (record.status === 'queued') return supervisor.view(await supervisor.observe(id, { kind: 'stop_requested', reason }));
    if (isTerminalStatus(record.status) || !record.handle) return supervisor.view(record);
    const marked = await supervisor.observe(id, { kind: 'stop_requested', reason });
    if (isTerminalStatus(marked.status) || !marked.handle) return supervisor.view(marked);
    this.options.log.info({ id, grace_ms: graceMs }, 'stopping session');
    const state = await this.options.processes.terminate(marked.handle, graceMs);
    if (state.state === 'ended') return supervisor.view((await supervisor.onEnded(id, state)) ?? (await this.load(id)));
    return supervisor.view(await this.load(id));
  }

  /**
   * Resolves when the session has ended or `timeoutMs` passed, with the session then. Rides on
   * the supervisor's watch: nothing polls while it waits, and `signal` releases it at once.
   */
  async wait(id: string, timeoutMs: number, signal?: AbortSignal): Promise<Session> {
    await this.settled(id);
    await this.options.supervisor.waitForEnd(id, timeoutMs, signal);
    return this.get(id);
  }

  async delete(id: string, force: boolean): Promise<void> {
    const { supervisor } = this.options;
    if (force && isSessionId(id) && this.store.isDamaged(id)) {
      // An unreadable record cannot be stopped through its handle; with force the operator
      // clears it (its process, if any, is left alone: we cannot tell which it is).
      await supervisor.withLock(id, () => this.store.delete(id));
      this.options.log.warn({ id }, 'deleted a damaged session record');
      return;
    }
    const record = await this.settled(id);
    if (!isTerminalStatus(record.status)) {
      // A queued session has no process: deleting it is taking it out of the queue.
      if (!force && record.status !== 'queued') {
        throw new SessionError('session_running', `session ${id} is ${record.status}; stop it first or pass ?force=true`);
      }
      await this.stop(id);
    }
    const last = await supervisor.withLock(id, async () => {
      const current = await supervisor.current(id);
      await this.store.delete(id).catch((err: unknown) => {
        throw storeFailure(err, this.options.log);
      });
      return current;
    });
    if (last) {
      this.idempotency.remove(last);
      await supervisor.deleted(last);
      // The runtime's own leftovers (a container) go with the session. A failure here costs an
      // idle leftover, not the delete: it is logged, and the runtime can find it by its label.
      if (last.handle) {
        await this.options.processes.release(last.handle).catch((err: unknown) => this.options.log.warn({ err, id }, 'could not release the session’s runtime resources'));
      }
    }
    this.options.log.info({ id }, 'session deleted');
  }

  async tail(id: string, tailBytes: number): Promise<LogsTail> {
    const session = await this.get(id);
    const [stdout, stderr] = await Promise.all([readTail(this.store, id, 'stdout', tailBytes), readTail(this.store, id, 'stderr', tailBytes)]);
    return {
      id,
      status: session.status,
      last_activity: session.last_activity,
      stdout: stdout.text,
      stderr: stderr.text,
      stdout_bytes: stdout.size,
      stderr_bytes: stderr.size,
    };
  }

  async rawLog(id: string, stream: LogStreamName, range?: RangeRequest): Promise<RawLog> {
    await this.load(id);
    return readRaw(this.store, id, stream, range);
  }

  /**
   * The session's report.md as a stream, never read whole: its size is checked on the open file
   * (past `maxReportBytes` it is report_too_large) and exactly that many bytes are sent, so a
   * report that grows or a 400 MB sparse file costs a reader its socket buffers, not its size.
   */
  async report(id: string): Promise<{ size: number; body: Readable }> {
    const record = await this.load(id);
    const opened = await openReport({
      dirs: [record.working_directory, record.runtime_write_root],
      since: record.started_at,
      roots: this.options.config.workspaceRoots,
    });
    if (!opened) throw new SessionError('report_not_found', `session ${id} has no report.md`);
    const limit = this.options.config.maxReportBytes ?? DEFAULT_MAX_REPORT_BYTES;
    const { handle, size } = opened;
    try {
      if (size > limit) {
        throw new SessionError('report_too_large', `the report of session ${id} has ${size} bytes; at most ${limit} are served (SESSIOND_MAX_REPORT_BYTES)`);
      }
      if (size === 0) {
        await handle.close();
        return { size: 0, body: Readable.from([]) };
      }
      // From the descriptor that was checked, never again by path; exactly the size checked.
      // The stream closes the file when it ends or is destroyed (a client that leaves).
      return { size, body: handle.createReadStream({ start: 0, end: size - 1 }) };
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw err;
    }
  }
}
