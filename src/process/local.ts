// The local ProcessAdapter: sessions as OS processes on this machine, each started by a keeper
// (keeper.c, a small native program) that outlives sessiond and records the exit status in the
// session's state folder.
// Identity is (pid, start time in clock ticks), so a reused pid is never mistaken for the session,
// and no signal is sent to a pid whose start time no longer matches. Where the host lets it,
// each session also gets its own cgroup (cgroup.ts), and a stop empties it.
// The only module that imports child_process.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, watch, type FSWatcher } from 'node:fs';
import { constants as fsConstants } from 'node:fs';
import { open, readFile, readdir, rmdir, stat, type FileHandle } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { LaunchError, type LaunchSpec, type PrepareRequest, type Prepared, type ProcessAdapter, type ProcessHandle, type ProcessState, type SessionFilesOf, type WriteOutcome } from './adapter.js';
import { EndWatch } from './end-watch.js';
import { OPEN_CHECKS, prepareOnHost, type HostChecks } from './host-prepare.js';
import { createSleeps } from './sleeps.js';
import {
  cgroupPidsSync,
  findCgroupPlace,
  hierarchyOf,
  isSessionCgroupDir,
  readHierarchies,
  sessionCgroupName,
  signalCgroupSync,
  type CgroupHierarchy,
  type CgroupPlace,
  type Containment,
} from './cgroup.js';
import {
  encodeKeeperSpec,
  EXIT_FILE,
  isKeeperFor,
  KEEPER_FILE,
  KEEPER_PROGRAM,
  LAUNCHER_PROGRAM,
  STDIN_FIFO,
  type ExitRecord,
  type KeeperReport,
  type KeeperSpec,
} from './keeper-protocol.js';
import { KeeperLauncher, LauncherGone } from './keeper-launcher.js';
import { readCmdline, readProcStat, readProcStatSync, readStartTicks } from './proc-stat.js';
import { runAsRefusal, type RunAs } from './run-as.js';

/** What the local adapter stores in a session's handle. */
export interface LocalProcessHandle {
  [key: string]: unknown;
  /** The session's process; also its process group id. */
  pid: number;
  /** Field 22 of /proc/<pid>/stat at launch. */
  start_ticks: number;
  /** The keeper that waits for the process and writes exit.json. */
  keeper_pid: number;
  /** Where the keeper writes keeper.json and exit.json. */
  state_dir: string;
  /** The session's own cgroup (a folder under a cgroup mount), when it has one. */
  cgroup?: string;
}

/** The few logger methods the adapter uses (pino's, in the service). */
export interface AdapterLog {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
}

export interface LocalProcessAdapterOptions {
  /** The keeper program. Default: sessiond-keeper next to this module (built from keeper.c). */
  keeperPath?: string;
  /**
   * The program that starts keepers (launcher.c), or null to spawn each keeper from this process.
   * Default: sessiond-launcher next to this module when it was built, else null.
   */
  launcherPath?: string | null;
  /** The safety poll of tracked sessions, besides inotify on their state folders. Default 1000 ms. */
  pollIntervalMs?: number;
  /**
   * The workspace roots: the keeper refuses to start a command whose working directory, once it
   * has changed into it, is not inside one (the launch fails). Default: no check.
   */
  workspaceRoots?: string[];
  /** Run commands as this user (SESSIOND_RUN_AS). Creating the adapter throws when this process cannot switch users. */
  runAs?: RunAs | null;
  /**
   * `auto` (default): a cgroup per session when the host allows it, else the process group.
   * A named containment is required: creating the adapter throws when it is not available.
   */
  containment?: 'auto' | Containment;
  /** Where the choice of containment is logged, once. */
  log?: AdapterLog;
  /** Where each session's logs and state folder are (the store's). Required to launch or find. */
  files?: SessionFilesOf;
  /** What `prepare` checks a command and its directories against. Default: anything, anywhere. */
  checks?: HostChecks;
  /** A keeper that has not reported by then is stuck: it is killed and the launch fails. Default 10 s. */
  launchTimeoutMs?: number;
}

/** How long find() waits for a keeper that is alive but has not written keeper.json yet. */
const RECOVER_WAIT_MS = 3_000;
/** A keeper that has not reported by then is stuck; launch fails rather than hang the request. */
const LAUNCH_TIMEOUT_MS = 10_000;
/** How long the adapter itself SIGKILLs a session's cgroup (its keeper gone) before leaving it. */
const EMPTY_CGROUP_MS = 5_000;
const EMPTY_CGROUP_POLL_MS = 10;
const TERMINATE_POLL_MS = 50;
/** After SIGKILL the process ends at once unless it is stuck in the kernel; do not wait forever. */
const AFTER_KILL_WAIT_MS = 5_000;
/** Between reaping the command and renaming exit.json into place the keeper needs a moment. */
const KEEPER_FINISH_MS = 1_000;
const KEEPER_FINISH_POLL_MS = 10;
/** A write into a full stdin pipe waits this long for the session to read before it is `busy`. */
const INPUT_FIRST_BYTE_MS = 5_000;
/** Once part of a message is in the pipe, the rest is waited for this long: half a message corrupts the stream. */
const INPUT_REST_MS = 60_000;
const INPUT_POLL_MS = 10;

const RUNNING: ProcessState = { state: 'running' };
const ENDED_UNKNOWN: Extract<ProcessState, { state: 'ended' }> = { state: 'ended', exit_code: null, exit_signal: null, ended_at: null };

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

function isInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value);
}

/** The handle as this adapter wrote it, or null for anything else (a failed launch's `{pid: null}`, say). */
function asLocal(handle: ProcessHandle): LocalProcessHandle | null {
  const h = handle as Partial<LocalProcessHandle>;
  if (!isInt(h.pid) || h.pid <= 0 || !isInt(h.start_ticks) || typeof h.state_dir !== 'string') return null;
  const local: LocalProcessHandle = { ...h, pid: h.pid, start_ticks: h.start_ticks, keeper_pid: isInt(h.keeper_pid) ? h.keeper_pid : 0, state_dir: h.state_dir };
  // A handle from a damaged or forged record names no other cgroup than a session's.
  if (typeof h.cgroup !== 'string' || !isSessionCgroupDir(h.cgroup)) delete local.cgroup;
  return local;
}

async function readExit(stateDir: string): Promise<ProcessState | null> {
  let text: string;
  try {
    text = await readFile(join(stateDir, EXIT_FILE), 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return null;
    throw err;
  }
  let record: Partial<ExitRecord>;
  try {
    record = JSON.parse(text) as Partial<ExitRecord>;
  } catch {
    // Written atomically, so this is damage from outside. The file still proves the keeper saw
    // the end; only the status is lost.
    return ENDED_UNKNOWN;
  }
  return {
    state: 'ended',
    exit_code: isInt(record.exit_code) ? record.exit_code : null,
    exit_signal: typeof record.exit_signal === 'string' ? record.exit_signal : null,
    ended_at: typeof record.ended_at === 'string' ? record.ended_at : null,
  };
}

/**
 * Whether this handle's keeper is still alive. Checked by its argv (which names the state
 * folder), so a reused keeper pid is not taken for it.
 */
async function keeperAlive(h: LocalProcessHandle): Promise<boolean> {
  // A zombie has an empty argv: not alive.
  return isKeeperFor(await readCmdline(h.keeper_pid), h.state_dir);
}

/** The live (not zombie) children of `pid`: from /proc/<pid>/task/<pid>/children, else a scan of /proc. */
async function liveChildren(pid: number): Promise<number[]> {
  let candidates: number[];
  try {
    // The keeper forks from its main thread, whose children this lists.
    candidates = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8')).split(' ').filter(Boolean).map(Number);
  } catch {
    const pids = (await readdir('/proc').catch(() => [] as string[])).filter((name) => /^\d+$/.test(name)).map(Number);
    const stats = await Promise.all(pids.map((p) => readProcStat(p).catch(() => null)));
    candidates = stats.filter((stat) => stat?.ppid === pid).map((stat) => stat!.pid);
  }
  const states = await Promise.all(candidates.map((child) => readProcStat(child).catch(() => null)));
  return states.filter((stat) => stat !== null && stat.ppid === pid && stat.state !== 'Z').map((stat) => stat!.pid);
}

/** The live keepers started for `stateDir` (their argv names the folder). */
async function keepersFor(stateDir: string, firstOnly = false): Promise<number[]> {
  const pids = (await readdir('/proc').catch(() => [] as string[])).filter((name) => /^\d+$/.test(name)).map(Number);
  const found: number[] = [];
  for (const pid of pids) {
    if (!isKeeperFor(await readCmdline(pid).catch(() => null), stateDir)) continue;
    found.push(pid);
    if (firstOnly) break;
  }
  return found;
}

/** Whether some live keeper was started for `stateDir`. */
async function keeperRunningFor(stateDir: string): Promise<boolean> {
  return (await keepersFor(stateDir, true)).length > 0;
}

function launchErrorFor(spec: LaunchSpec, report: Extract<KeeperReport, { ok: false }>): LaunchError {
  // Only the spawn itself says "spawn <command> <code>"; an ENOENT on a log file reads differently.
  const fromSpawn = report.error.startsWith('spawn ');
  if (fromSpawn && report.code === 'ENOENT') return new LaunchError(`command not found: ${spec.command} (${report.error})`);
  if (fromSpawn && report.code === 'EACCES') return new LaunchError(`command not executable: ${spec.command} (${report.error})`);
  return new LaunchError(report.error);
}

/** Decides the containment once, at creation; logs it, and throws when a required one is missing. */
function chooseContainment(want: 'auto' | Containment, log: AdapterLog | undefined): { containment: Containment; place: CgroupPlace | null } {
  if (want === 'process-group') {
    log?.info({ containment: want }, 'process containment: process-group (as configured); a process that calls setsid() escapes a stop');
    return { containment: want, place: null };
  }
  const { place, reasons } = findCgroupPlace(want);
  if (place) {
    const containment: Containment = place.version === 2 ? 'cgroup-v2' : 'cgroup-v1';
    log?.info({ containment, cgroup: place.base }, `process containment: ${containment}, one cgroup per session under ${place.base}; a stop ends every process in it`);
    return { containment, place };
  }
  if (want !== 'auto') throw new Error(`containment ${want} was asked for but is not available here: ${reasons.join('; ')}`);
  log?.warn(
    { containment: 'process-group', reasons },
    'process containment: process-group (no usable cgroup); a process that calls setsid() or setpgid() escapes a stop',
  );
  return { containment: 'process-group', place: null };
}

/** Reads the keeper's one-line report from fd 3. Rejects with LaunchError if it never comes. */
function readReport(keeper: ChildProcess, timeoutMs: number): Promise<KeeperReport> {
  return new Promise((resolve, reject) => {
    const channel = keeper.stdio[3] as Readable | null | undefined;
    let text = '';
    let settled = false;
    const settle = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      channel?.destroy();
      outcome();
    };
    const timer = setTimeout(() => {
      settle(() => {
        keeper.kill('SIGKILL');
        reject(new LaunchError(`keeper did not report within ${timeoutMs} ms`));
      });
    }, timeoutMs);

    keeper.on('error', (err) => settle(() => reject(new LaunchError(`cannot start keeper: ${err.message}`, { cause: err }))));
    // 'close' comes after the keeper exited and its fd 3 reached EOF, so a report is never lost to it.
    keeper.on('close', (code, signal) => {
      settle(() => reject(new LaunchError(`keeper exited without reporting (exit code ${code}, signal ${signal})`)));
    });
    if (!channel) {
      settle(() => reject(new LaunchError('keeper has no report channel')));
      return;
    }
    channel.setEncoding('utf8');
    channel.on('error', (err) => settle(() => reject(new LaunchError(`keeper report channel: ${err.message}`, { cause: err }))));
    channel.on('data', (chunk: string) => {
      text += chunk;
      const newline = text.indexOf('\n');
      if (newline < 0) return;
      const line = text.slice(0, newline);
      settle(() => {
        try {
          resolve(JSON.parse(line) as KeeperReport);
        } catch (err) {
          reject(new LaunchError(`keeper report is not JSON: ${line}`, { cause: err }));
        }
      });
    });
  });
}

export function createLocalProcessAdapter(options: LocalProcessAdapterOptions = {}): ProcessAdapter {
  const keeperPath = options.keeperPath ?? fileURLToPath(new URL(`./${KEEPER_PROGRAM}`, import.meta.url));
  const defaultLauncher = fileURLToPath(new URL(`./${LAUNCHER_PROGRAM}`, import.meta.url));
  const launcherPath = options.launcherPath !== undefined ? options.launcherPath : existsSync(defaultLauncher) ? defaultLauncher : null;
  const launcher = launcherPath === null ? null : new KeeperLauncher(launcherPath, keeperPath);
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  const roots = options.workspaceRoots ?? [];
  const filesOf: SessionFilesOf =
    options.files ??
    (() => {
      throw new LaunchError('this adapter was made without a place for session files');
    });
  const checks = options.checks ?? OPEN_CHECKS;
  const launchTimeoutMs = options.launchTimeoutMs ?? LAUNCH_TIMEOUT_MS;
  const runAs = options.runAs ?? null;
  const refusal = runAsRefusal(runAs);
  if (refusal !== null) throw new Error(refusal);
  const { containment, place } = chooseContainment(options.containment ?? 'auto', options.log);
  // Which hierarchy a handle's cgroup lies in (it may come from an earlier run of the service).
  const hierarchies: CgroupHierarchy[] = readHierarchies();
  let closed = false;
  // Every sleep here, cut short by close().
  const sleeps = createSleeps();
  const delay = sleeps.delay;

  type EndedState = Extract<ProcessState, { state: 'ended' }>;
  /** inotify on each tracked session's state folder (exit.json appearing): the end-watch's wake-up. */
  const watchers = new Map<string, FSWatcher>();
  const ends = new EndWatch<LocalProcessHandle, EndedState>({
    pollIntervalMs,
    async inspect(_sessionId, h) {
      const state = await inspectLocal(h);
      // An end is told once nothing of the session is left running.
      if (state.state === 'ended') await sweepCgroup(h).catch(() => undefined);
      return state;
    },
    // (An I/O error reading the state folder is no fact about the process: the next event or poll
    // looks again.)
    onUntrack(sessionId) {
      watchers.get(sessionId)?.close();
      watchers.delete(sessionId);
    },
  });

  /** The keeper started for `stateDir`, from its keeper.json (waiting a moment for a keeper at work to write it), or null. */
  const findKeeper = async (stateDir: string): Promise<LocalProcessHandle | null> => {
    // A keeper may have been started just before the service died and not have written
    // keeper.json yet: while one is alive for this folder, give it a moment to do so.
    const deadline = performance.now() + RECOVER_WAIT_MS;
    let record: unknown = null;
    for (;;) {
      try {
        record = JSON.parse(await readFile(join(stateDir, KEEPER_FILE), 'utf8'));
        break;
      } catch {
        // No keeper.json (yet), or an unreadable one: adopt nothing unless a keeper is at work.
        if (performance.now() >= deadline || !(await keeperRunningFor(stateDir))) return null;
        await delay(KEEPER_FINISH_POLL_MS);
      }
    }
    const r = record as Partial<LocalProcessHandle> & { cgroup?: unknown };
    if (!isInt(r.pid) || !isInt(r.start_ticks) || !isInt(r.keeper_pid)) return null;
    const handle: LocalProcessHandle = { pid: r.pid, start_ticks: r.start_ticks, keeper_pid: r.keeper_pid, state_dir: stateDir };
    if (typeof r.cgroup === 'string' && isSessionCgroupDir(r.cgroup)) handle.cgroup = r.cgroup;
    return handle;
  };

  /** What the keeper reported when this process spawned it itself (no launcher). */
  const reportOfDirectSpawn = async (stateDir: string, encoded: Buffer, env: Record<string, string>): Promise<KeeperReport> => {
    // The argv names only the state folder: `ps` is readable by every local user, and the
    // spec (arguments, prompt, paths) goes through a pipe instead.
    const keeper = spawn(keeperPath, [stateDir], {
      // Its own session, so that sessiond's terminal or group signals do not reach it.
      detached: true,
      stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'],
      env,
      // The keeper changes into the working directory itself, and checks where it landed.
      cwd: '/',
    });
    const specChannel = keeper.stdio[4] as Writable | null | undefined;
    // EPIPE when the keeper died first: its missing report says why.
    specChannel?.on('error', () => undefined);
    specChannel?.end(encoded);
    try {
      return await readReport(keeper, launchTimeoutMs).catch(async (err: unknown) => {
        throw (await keeperMissing()) ?? err;
      });
    } finally {
      // sessiond may exit while the session runs on under its keeper.
      keeper.unref();
    }
  };

  /**
   * What the keeper reported when the launcher started it (the same argv, fds and environment as
   * a direct spawn), or 'adopted' when the launcher died before answering: the keeper may run.
   */
  const reportThroughLauncher = async (via: KeeperLauncher, stateDir: string, encoded: Buffer, env: Record<string, string>): Promise<KeeperReport | 'adopted'> => {
    let text: string;
    try {
      text = await via.start(stateDir, encoded, env, launchTimeoutMs);
    } catch (err) {
      if (err instanceof LauncherGone) return 'adopted';
      // Stuck (it never reported): killed, as a directly spawned keeper is, so nothing starts late.
      for (const pid of await keepersFor(stateDir)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Gone meanwhile.
        }
      }
      throw new LaunchError(`cannot start keeper: ${(err as Error).message}`, { cause: err });
    }
    const newline = text.indexOf('\n');
    if (newline < 0) {
      // The likeliest silent death: no keeper program (no build, wrong path).
      throw (await keeperMissing()) ?? new LaunchError('keeper exited without reporting');
    }
    const line = text.slice(0, newline);
    try {
      return JSON.parse(line) as KeeperReport;
    } catch (err) {
      throw new LaunchError(`keeper report is not JSON: ${line}`, { cause: err });
    }
  };

  /** LaunchError "keeper program not found" when it is not there, else null. */
  const keeperMissing = async (): Promise<LaunchError | null> => {
    const present = await stat(keeperPath).then(
      () => true,
      () => false,
    );
    return present ? null : new LaunchError(`keeper program not found: ${keeperPath}`);
  };

  const inspectLocal = async (h: LocalProcessHandle): Promise<ProcessState> => {
    const recorded = await readExit(h.state_dir);
    if (recorded) return recorded;
    const stat = await readProcStat(h.pid);
    // A zombie has finished running. Its keeper reaps it at once and writes exit.json (waited for
    // below); but if the keeper is dead the zombie belongs to pid 1, which may never reap it
    // (node as pid 1 in a container does not), so it must not count as running.
    if (stat && stat.startTicks === h.start_ticks && stat.state !== 'Z') return RUNNING;
    // Ended, gone, or the pid belongs to another process now. The keeper may be writing
    // exit.json right now; give it a moment while it is alive.
    const deadline = performance.now() + KEEPER_FINISH_MS;
    for (;;) {
      const late = await readExit(h.state_dir);
      if (late) return late;
      if (closed || !(await keeperAlive(h))) break;
      // A keeper still alive after that, with its command reaped, is still finishing the
      // session: emptying its cgroup, or waiting for room to write exit.json on a full disk.
      // Its end is not lost by calling it unknown now: its exit.json, or its death, comes later.
      // A keeper whose command still runs keeps another process than this handle names.
      if (performance.now() >= deadline) return (await liveChildren(h.keeper_pid)).length === 0 ? RUNNING : ENDED_UNKNOWN;
      await delay(KEEPER_FINISH_POLL_MS);
    }
    return (await readExit(h.state_dir)) ?? ENDED_UNKNOWN;
  };

  /** Signals the session's group, unless the pid no longer is the session. False when nothing was signalled. */
  const signalGroup = async (h: LocalProcessHandle, signal: NodeJS.Signals): Promise<boolean> => {
    if ((await readStartTicks(h.pid)) !== h.start_ticks) return false;
    try {
      process.kill(-h.pid, signal);
      return true;
    } catch (err) {
      if (errnoCode(err) === 'ESRCH') return false; // already gone
      throw err;
    }
  };

  /** Signals every process in the session's cgroup (it holds only this session's). How many there were. */
  const signalCgroup = (h: LocalProcessHandle, signal: NodeJS.Signals, skip?: (pid: number) => boolean): number => {
    if (h.cgroup === undefined) return 0;
    const hierarchy = hierarchyOf(h.cgroup, hierarchies);
    if (!hierarchy) return 0;
    return signalCgroupSync(h.cgroup, hierarchy.version, hierarchy.controller, signal, skip);
  };

  /**
   * Signals all of the session: its group, and in its cgroup (where setsid() and setpgid() cannot
   * take a process out) what left the group. Each process gets the signal once: a shell whose
   * SIGTERM trap ran twice would clean up twice.
   */
  const signalSession = async (h: LocalProcessHandle, signal: NodeJS.Signals): Promise<void> => {
    const sentToGroup = await signalGroup(h, signal);
    signalCgroup(h, signal, sentToGroup ? (pid) => readProcStatSync(pid)?.pgrp === h.pid : undefined);
  };

  /**
   * Empties and removes the cgroup of an ended session whose keeper is gone (killed with -9):
   * otherwise the keeper does it. What escaped its group must not run on after the end.
   */
  const sweepCgroup = async (h: LocalProcessHandle): Promise<void> => {
    if (h.cgroup === undefined || (await keeperAlive(h))) return;
    const deadline = performance.now() + EMPTY_CGROUP_MS;
    while (signalCgroup(h, 'SIGKILL') > 0 && performance.now() < deadline && !closed) await delay(EMPTY_CGROUP_POLL_MS);
    if (cgroupPidsSync(h.cgroup).length === 0) await rmdir(h.cgroup).catch(() => undefined);
  };

  /** Polls until the process has ended or `ms` passed; the last state seen. */
  const waitEnded = async (h: LocalProcessHandle, ms: number): Promise<ProcessState> => {
    const deadline = performance.now() + ms;
    for (;;) {
      const state = await inspectLocal(h);
      const left = deadline - performance.now();
      if (state.state === 'ended' || left <= 0 || closed) return state;
      await delay(Math.min(TERMINATE_POLL_MS, left));
    }
  };

  return {
    prepare(request: PrepareRequest): Promise<Prepared> {
      return prepareOnHost(request, checks, 'host');
    },

    async launch(spec: LaunchSpec): Promise<ProcessHandle> {
      const files = filesOf(spec.sessionId);
      // The keeper makes the state folder and enters the working directory itself (a missing
      // one is its report's error): no file checks here, on the path of every start.
      const keeperSpec: KeeperSpec = {
        command: spec.command,
        args: spec.args,
        cwd: spec.cwd,
        stdoutPath: files.stdout,
        stderrPath: files.stderr,
        stateDir: files.stateDir,
        roots,
        runAs,
        cgroup: place
          ? {
              version: place.version,
              dir: join(place.base, sessionCgroupName(spec.sessionId, randomBytes(4).toString('hex'))),
              home: place.home,
            }
          : null,
        stdin: spec.input ? 'pipe' : 'null',
        stdinInitial: spec.input ? (spec.initialInput ?? '') : '',
      };
      let encoded: Buffer;
      try {
        encoded = encodeKeeperSpec(keeperSpec);
      } catch (err) {
        throw new LaunchError((err as Error).message, { cause: err });
      }
      const report = launcher ? await reportThroughLauncher(launcher, files.stateDir, encoded, spec.env) : await reportOfDirectSpawn(files.stateDir, encoded, spec.env);
      if (report === 'adopted') {
        // The launcher died with this start under way, after the keeper was born.
        const adopted = await findKeeper(files.stateDir);
        if (adopted) return adopted;
        throw new LaunchError('the keeper launcher died before the keeper reported');
      }
      if (!report.ok) throw launchErrorFor(spec, report);
      const handle: LocalProcessHandle = {
        pid: report.pid,
        start_ticks: report.start_ticks,
        keeper_pid: report.keeper_pid,
        state_dir: files.stateDir,
        ...(report.cgroup ? { cgroup: report.cgroup } : {}),
      };
      return handle;
    },

    async inspect(handle: ProcessHandle): Promise<ProcessState> {
      const h = asLocal(handle);
      return h ? inspectLocal(h) : ENDED_UNKNOWN;
    },

    async terminate(handle: ProcessHandle, graceMs: number): Promise<ProcessState> {
      const h = asLocal(handle);
      if (!h) return ENDED_UNKNOWN;
      const before = await inspectLocal(h);
      if (before.state === 'ended') {
        await sweepCgroup(h);
        return before;
      }
      // As systemd's KillMode=control-group: SIGTERM to all of it, SIGKILL to what is left.
      await signalSession(h, 'SIGTERM');
      const afterTerm = await waitEnded(h, graceMs);
      if (afterTerm.state === 'ended' || closed) {
        if (afterTerm.state === 'ended') await sweepCgroup(h);
        return afterTerm;
      }
      await signalSession(h, 'SIGKILL');
      const last = await waitEnded(h, AFTER_KILL_WAIT_MS);
      if (last.state === 'ended') await sweepCgroup(h);
      return last;
    },

    watch(listener: (sessionId: string, state: EndedState) => void): () => void {
      return ends.watch(listener);
    },

    track(sessionId: string, handle: ProcessHandle): void {
      const h = asLocal(handle);
      if (!h) {
        // Nothing this adapter can watch (a failed launch's handle): it has ended, status unknown.
        ends.untrack(sessionId);
        ends.tell(sessionId, ENDED_UNKNOWN);
        return;
      }
      ends.track(sessionId, h);
      try {
        const watcher = watch(h.state_dir, (_event, filename) => {
          if (filename === null || filename === EXIT_FILE) ends.check(sessionId);
        });
        // A watcher that breaks (folder removed) leaves the poll in charge.
        watcher.on('error', () => {
          watcher.close();
          if (watchers.get(sessionId) === watcher) watchers.delete(sessionId);
        });
        watchers.set(sessionId, watcher);
      } catch {
        // No watcher (folder missing, or out of inotify watches): the safety poll still finds the end.
      }
      ends.check(sessionId);
    },

    untrack(sessionId: string): void {
      ends.untrack(sessionId);
    },

    async find(sessionId: string): Promise<ProcessHandle | null> {
      return findKeeper(filesOf(sessionId).stateDir);
    },

    containment(): Containment {
      return containment;
    },

    async close(): Promise<void> {
      closed = true;
      ends.close();
      launcher?.close();
      sleeps.cutAll();
    },

    async signal(handle: ProcessHandle, signal: 'SIGINT' | 'SIGTERM'): Promise<boolean> {
      // The same check as a stop's: the group is signalled only while its leader is the session.
      const h = asLocal(handle);
      return h ? signalGroup(h, signal) : false;
    },

    async release(): Promise<void> {
      // A local session leaves nothing but its files (the keeper is gone, its cgroup removed).
    },

    async writeInput(handle: ProcessHandle, bytes: Buffer): Promise<WriteOutcome> {
      const h = asLocal(handle);
      if (!h) return 'ended';
      let fifo: FileHandle;
      try {
        // Non-blocking: opening a FIFO nobody reads fails at once (ENXIO) instead of hanging, and a
        // full pipe answers EAGAIN instead of holding a thread. No link is followed.
        fifo = await open(join(h.state_dir, STDIN_FIFO), fsConstants.O_WRONLY | fsConstants.O_NONBLOCK | fsConstants.O_NOFOLLOW);
      } catch (err) {
        const code = errnoCode(err);
        // ENOENT: launched without input, or its keeper removed the pipe at the end.
        if (code === 'ENOENT') return (await inspectLocal(h)).state === 'ended' ? 'ended' : 'not_interactive';
        if (code === 'ENXIO') return 'ended'; // no reader: the keeper is gone
        throw err;
      }
      try {
        if (!(await fifo.stat()).isFIFO()) return 'not_interactive';
        let done = 0;
        const started = performance.now();
        while (done < bytes.length) {
          try {
            done += (await fifo.write(bytes, done, bytes.length - done)).bytesWritten;
            continue;
          } catch (err) {
            if (errnoCode(err) === 'EPIPE') return 'ended';
            if (errnoCode(err) !== 'EAGAIN') throw err;
          }
          const waited = performance.now() - started;
          if ((done === 0 && waited >= INPUT_FIRST_BYTE_MS) || waited >= INPUT_REST_MS || closed) return done === 0 ? 'busy' : 'ended';
          await delay(INPUT_POLL_MS);
        }
        return 'written';
      } finally {
        await fifo.close();
      }
    },
  };
}
