// The local ProcessAdapter: sessions as OS processes on this machine, each started by a keeper
// (keeper.ts) that outlives sessiond and records the exit status in the session's state folder.
// Identity is (pid, start time in clock ticks), so a reused pid is never mistaken for the session,
// and no signal is sent to a pid whose start time no longer matches.
// The only module besides keeper.ts that imports child_process.
import { spawn, type ChildProcess } from 'node:child_process';
import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { LaunchError, type LaunchSpec, type ProcessAdapter, type ProcessHandle, type ProcessState } from './adapter.js';
// Types only: importing keeper.js for real would run the keeper.
import type { ExitRecord, KeeperReport, KeeperSpec } from './keeper.js';
import { readCmdline, readProcStat, readStartTicks } from './proc-stat.js';

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
}

export interface LocalProcessAdapterOptions {
  /** The compiled keeper. Default: keeper.js next to this module. */
  keeperPath?: string;
  /** The safety poll of tracked sessions, besides inotify on their state folders. Default 1000 ms. */
  pollIntervalMs?: number;
}

// Spelled in keeper.ts too.
const EXIT_FILE = 'exit.json';
const KEEPER_FILE = 'keeper.json';
/** How long recover() waits for a keeper that is alive but has not written keeper.json yet. */
const RECOVER_WAIT_MS = 3_000;
/** A keeper that has not reported by then is stuck; launch fails rather than hang the request. */
const LAUNCH_TIMEOUT_MS = 10_000;
const TERMINATE_POLL_MS = 50;
/** After SIGKILL the process ends at once unless it is stuck in the kernel; do not wait forever. */
const AFTER_KILL_WAIT_MS = 5_000;
/** Between reaping the command and renaming exit.json into place the keeper needs a moment. */
const KEEPER_FINISH_MS = 1_000;
const KEEPER_FINISH_POLL_MS = 10;

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
  return { ...h, pid: h.pid, start_ticks: h.start_ticks, keeper_pid: isInt(h.keeper_pid) ? h.keeper_pid : 0, state_dir: h.state_dir };
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
 * Whether this handle's keeper is still alive. Checked by its argv (the spec names the state
 * folder), so a reused keeper pid is not taken for it.
 */
async function keeperAlive(h: LocalProcessHandle): Promise<boolean> {
  const argv = await readCmdline(h.keeper_pid);
  const spec = argv?.[2];
  if (spec === undefined) return false; // gone, or a zombie (empty argv)
  try {
    return (JSON.parse(spec) as Partial<KeeperSpec>).stateDir === h.state_dir;
  } catch {
    // Not JSON: that pid now runs some other program.
    return false;
  }
}

/** Whether some live keeper was started for `stateDir` (its argv names the folder). */
async function keeperRunningFor(stateDir: string): Promise<boolean> {
  const pids = (await readdir('/proc').catch(() => [] as string[])).filter((name) => /^\d+$/.test(name)).map(Number);
  for (const pid of pids) {
    const spec = (await readCmdline(pid).catch(() => null))?.[2];
    if (spec === undefined || !spec.includes('stateDir')) continue;
    try {
      if ((JSON.parse(spec) as Partial<KeeperSpec>).stateDir === stateDir) return true;
    } catch {
      // Not a keeper's argument.
    }
  }
  return false;
}

function launchErrorFor(spec: LaunchSpec, report: Extract<KeeperReport, { ok: false }>): LaunchError {
  // Only the spawn itself says "spawn <command> <code>"; an ENOENT on a log file reads differently.
  const fromSpawn = report.error.startsWith('spawn ');
  if (fromSpawn && report.code === 'ENOENT') return new LaunchError(`command not found: ${spec.command} (${report.error})`);
  if (fromSpawn && report.code === 'EACCES') return new LaunchError(`command not executable: ${spec.command} (${report.error})`);
  return new LaunchError(report.error);
}

/** Reads the keeper's one-line report from fd 3. Rejects with LaunchError if it never comes. */
function readReport(keeper: ChildProcess): Promise<KeeperReport> {
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
        reject(new LaunchError(`keeper did not report within ${LAUNCH_TIMEOUT_MS} ms`));
      });
    }, LAUNCH_TIMEOUT_MS);

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
  const keeperPath = options.keeperPath ?? fileURLToPath(new URL('./keeper.js', import.meta.url));
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  let closed = false;
  // Everything pending that close() must cut short: sleeps and waitForExit calls.
  const cancels = new Set<() => void>();

  /** A sleep that close() ends early. */
  const delay = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      if (closed) return resolve();
      const cancel = (): void => {
        clearTimeout(timer);
        cancels.delete(cancel);
        resolve();
      };
      const timer = setTimeout(cancel, ms);
      cancels.add(cancel);
    });

  type EndedState = Extract<ProcessState, { state: 'ended' }>;
  interface Tracked {
    h: LocalProcessHandle;
    watcher: FSWatcher | undefined;
    /** An inspection is under way; `again` asks for one more after it (an event came meanwhile). */
    checking: boolean;
    again: boolean;
  }
  const tracked = new Map<string, Tracked>();
  const listeners = new Set<(sessionId: string, state: EndedState) => void>();
  let pollTimer: NodeJS.Timeout | null = null;

  const untrackOne = (sessionId: string): void => {
    const entry = tracked.get(sessionId);
    if (!entry) return;
    entry.watcher?.close();
    tracked.delete(sessionId);
  };

  /** Inspects one tracked session and reports its end; one inspection at a time per session. */
  const check = (sessionId: string): void => {
    const entry = tracked.get(sessionId);
    if (!entry || closed) return;
    if (entry.checking) {
      entry.again = true;
      return;
    }
    entry.checking = true;
    inspectLocal(entry.h).then(
      (state) => {
        entry.checking = false;
        if (tracked.get(sessionId) !== entry) return;
        if (state.state === 'ended') for (const listener of [...listeners]) listener(sessionId, state);
        else if (entry.again) {
          entry.again = false;
          check(sessionId);
        }
      },
      () => {
        // An I/O error reading the state folder: not a fact about the process. The next event
        // or poll looks again.
        entry.checking = false;
      },
    );
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
      if (closed || performance.now() >= deadline || !(await keeperAlive(h))) break;
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
    async launch(spec: LaunchSpec): Promise<ProcessHandle> {
      let cwdIsDir: boolean;
      try {
        cwdIsDir = (await stat(spec.cwd)).isDirectory();
      } catch (err) {
        throw new LaunchError(`working directory does not exist: ${spec.cwd}`, { cause: err });
      }
      if (!cwdIsDir) throw new LaunchError(`working directory is not a directory: ${spec.cwd}`);
      try {
        await mkdir(spec.stateDir, { recursive: true });
      } catch (err) {
        throw new LaunchError(`cannot create state folder ${spec.stateDir}: ${(err as Error).message}`, { cause: err });
      }

      const keeperSpec: KeeperSpec = {
        command: spec.command,
        args: spec.args,
        cwd: spec.cwd,
        stdoutPath: spec.stdoutPath,
        stderrPath: spec.stderrPath,
        stateDir: spec.stateDir,
      };
      const keeper = spawn(process.execPath, [keeperPath, JSON.stringify(keeperSpec)], {
        // Its own session, so that sessiond's terminal or group signals do not reach it.
        detached: true,
        stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
        env: spec.env,
        cwd: spec.cwd,
      });
      try {
        const report = await readReport(keeper).catch(async (err: unknown) => {
          // The likeliest silent death: node could not load the keeper (no build, wrong path).
          const present = await stat(keeperPath).then(() => true, () => false);
          throw present ? err : new LaunchError(`keeper program not found: ${keeperPath}`, { cause: err });
        });
        if (!report.ok) throw launchErrorFor(spec, report);
        const handle: LocalProcessHandle = {
          pid: report.pid,
          start_ticks: report.start_ticks,
          keeper_pid: report.keeper_pid,
          state_dir: spec.stateDir,
        };
        return handle;
      } finally {
        // sessiond may exit while the session runs on under its keeper.
        keeper.unref();
      }
    },

    async inspect(handle: ProcessHandle): Promise<ProcessState> {
      const h = asLocal(handle);
      return h ? inspectLocal(h) : ENDED_UNKNOWN;
    },

    async terminate(handle: ProcessHandle, graceMs: number): Promise<ProcessState> {
      const h = asLocal(handle);
      if (!h) return ENDED_UNKNOWN;
      const before = await inspectLocal(h);
      if (before.state === 'ended') return before;
      await signalGroup(h, 'SIGTERM');
      const afterTerm = await waitEnded(h, graceMs);
      if (afterTerm.state === 'ended' || closed) return afterTerm;
      await signalGroup(h, 'SIGKILL');
      return waitEnded(h, AFTER_KILL_WAIT_MS);
    },

    watch(listener: (sessionId: string, state: EndedState) => void): () => void {
      listeners.add(listener);
      if (!pollTimer && !closed) {
        // The safety net: a keeper killed with -9 writes no exit.json, and inotify can miss events.
        pollTimer = setInterval(() => {
          for (const id of tracked.keys()) check(id);
        }, pollIntervalMs);
        pollTimer.unref();
      }
      return () => {
        listeners.delete(listener);
        if (listeners.size > 0 || !pollTimer) return;
        clearInterval(pollTimer);
        pollTimer = null;
      };
    },

    track(sessionId: string, handle: ProcessHandle): void {
      untrackOne(sessionId);
      const h = asLocal(handle);
      if (!h) {
        // Nothing this adapter can watch (a failed launch's handle): it has ended, status unknown.
        queueMicrotask(() => {
          for (const listener of [...listeners]) listener(sessionId, ENDED_UNKNOWN);
        });
        return;
      }
      const entry: Tracked = { h, watcher: undefined, checking: false, again: false };
      tracked.set(sessionId, entry);
      try {
        entry.watcher = watch(h.state_dir, (_event, filename) => {
          if (filename === null || filename === EXIT_FILE) check(sessionId);
        });
        // A watcher that breaks (folder removed) leaves the poll in charge.
        entry.watcher.on('error', () => {
          entry.watcher?.close();
          entry.watcher = undefined;
        });
      } catch {
        // No watcher (folder missing, or out of inotify watches): the safety poll still finds the end.
        entry.watcher = undefined;
      }
      // Closes the gap between launch (or adoption) and the watcher being in place.
      check(sessionId);
    },

    untrack(sessionId: string): void {
      untrackOne(sessionId);
    },

    async recover(stateDir: string): Promise<ProcessHandle | null> {
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
      const r = record as Partial<LocalProcessHandle>;
      if (!isInt(r.pid) || !isInt(r.start_ticks) || !isInt(r.keeper_pid)) return null;
      const handle: LocalProcessHandle = { pid: r.pid, start_ticks: r.start_ticks, keeper_pid: r.keeper_pid, state_dir: stateDir };
      return handle;
    },

    async close(): Promise<void> {
      closed = true;
      if (pollTimer) clearInterval(pollTimer);
      pollTimer = null;
      for (const id of [...tracked.keys()]) untrackOne(id);
      for (const cancel of [...cancels]) cancel();
    },

    async signal(handle: ProcessHandle, signal: 'SIGINT' | 'SIGTERM'): Promise<boolean> {
      // The same check as a stop's: the group is signalled only while its leader is the session.
      const h = asLocal(handle);
      return h ? signalGroup(h, signal) : false;
    },
  };
}
