// The ProcessAdapter port: the only way the service starts, inspects, signals and waits for processes.
// Shaped after jupyter_client's provisioner: a small Popen-like interface, so a cluster backend
// (Kubernetes pods) can plug in beside the local one without the manager knowing.
import type { NetworkName, RuntimeName } from '../../schemas/runtime.js';
import type { ProcessHandle } from '../../schemas/session.js';
import type { Containment } from './cgroup.js';

export type { ProcessHandle, Containment };

export interface LaunchSpec {
  sessionId: string;
  /** Program name (looked up on env.PATH) or absolute path. Never run through a shell. */
  command: string;
  args: string[];
  cwd: string;
  /** The whole environment of the process (already filtered by the caller). */
  env: Record<string, string>;
  /** Give the session a stdin pipe that `writeInput` feeds and that stays open across restarts of the service. Default: stdin is empty. */
  input?: boolean;
  /** With `input`: the first bytes of stdin, in the pipe before the process starts (an agent's first message; at most 256 KiB). */
  initialInput?: string;
  /** Which runtime runs it (the runtime router dispatches on it). Default `local`. */
  runtime?: RuntimeName;
  /** A container session's image, limits and mounts; unset fields take the runtime's defaults. */
  container?: ContainerOptions;
}

/**
 * Where the store keeps one session's output and the runtime's own state for it: the two logs a
 * runtime appends to (byte-exact, so offsets, times and resume work the same for every runtime)
 * and a folder of its own. A runtime is given the way to find them when it is made
 * (`SessionFilesOf`), so neither a launch nor an adoption hands it a host path: the service never
 * needs one.
 */
export interface SessionFiles {
  stdout: string;
  stderr: string;
  stateDir: string;
}
export type SessionFilesOf = (sessionId: string) => SessionFiles;

/** What a start asks to run, before any record is written: `prepare` checks it where it will run. */
export interface PrepareRequest {
  /** As asked: a bare program name or an absolute path. */
  command: string;
  workingDirectory: string;
  runtimeWriteRoot: string | null;
  runtime?: RuntimeName;
}

/** A request checked by its runtime: what to run, and the directories as it resolved them. */
export interface Prepared {
  /** The program to run: resolved on the sessions' PATH for a local session, as asked in a container. */
  executable: string;
  workingDirectory: string;
  runtimeWriteRoot: string | null;
}

export interface ContainerLimits {
  memoryBytes?: number | null;
  cpus?: number | null;
  pids?: number | null;
}

export type ContainerNetwork = NetworkName;

/** What a container session asks of its container besides the LaunchSpec. */
export interface ContainerOptions {
  image?: string;
  limits?: ContainerLimits;
  network?: ContainerNetwork;
  /** The working directory is mounted read-write only when true (repository_write_allowed). Default false. */
  cwdWritable?: boolean;
  /** More host folders mounted at the same path (runtime_write_root, say). */
  mounts?: Array<{ path: string; readOnly: boolean }>;
}

/** What became of a `writeInput`: all of it reached the session's stdin, or why nothing did. */
export type WriteOutcome = 'written' | 'not_interactive' | 'ended' | 'busy';

export type ProcessState =
  | { state: 'running' }
  | {
      state: 'ended';
      exit_code: number | null;
      exit_signal: string | null;
      /** When it ended, if the adapter knows (RFC 3339). */
      ended_at: string | null;
      /** What the runtime knows of why, beyond the code or signal (a memory limit's kill, say). */
      reason?: string;
    };

export class LaunchError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LaunchError';
  }
}

export interface ProcessAdapter {
  /**
   * Called before a start writes its record (and again when a queued session's turn comes): the
   * command and directory checks, in the runtime's own world (the sessions' PATH and the
   * workspace roots on this host; a container finds its command on its image's PATH). Throws the
   * API's own errors (SessionError command_not_allowed, working_directory_invalid, ...), which
   * the start answers as they are.
   */
  prepare(request: PrepareRequest): Promise<Prepared>;

  /**
   * Called by the manager once per session, after its record is written. Resolves when the
   * process is confirmed running (its handle is then stored), rejects with LaunchError when it
   * could not be started (the session then becomes `failed` with the message as reason).
   */
  launch(spec: LaunchSpec): Promise<ProcessHandle>;

  /**
   * Called by the supervisor at start-up for each live session, and by its safety checks. Must not be fooled by a reused pid: a handle whose
   * process is gone, or whose pid now belongs to another process, is `ended`.
   */
  inspect(handle: ProcessHandle): Promise<ProcessState>;

  /**
   * Called by stop: SIGTERM to the whole session (its process group, and every process in its
   * cgroup when it has one), SIGKILL to all of it after `graceMs` if it is still alive. Resolves with the final state once the process has ended. Never signals a process
   * that is not the session's. Stopping an ended process is a no-op.
   */
  terminate(handle: ProcessHandle, graceMs: number): Promise<ProcessState>;

  /**
   * Called once by the supervisor at start-up: `onEnded` hears, soon after (within a second), of
   * every tracked session whose process has ended, with how it ended, whether or not anyone
   * reads the session. One mechanism for all sessions (the local adapter: inotify on the
   * keepers' state folders plus one slow safety poll). It may hear of one end more than once.
   * Returns the function that stops watching.
   */
  watch(onEnded: (sessionId: string, state: Extract<ProcessState, { state: 'ended' }>) => void): () => void;

  /** Called by the supervisor for each live session (after a launch, or at start-up): watch it. */
  track(sessionId: string, handle: ProcessHandle): void;

  /** Called once the session's end is recorded (or it is deleted): stop watching it. */
  untrack(sessionId: string): void;

  /**
   * Called once at start-up for each session left in `starting` without a handle (the service
   * died between launching and recording the launch): the handle when the process was in fact
   * started (the runtime looks for it by the session's id: in its state folder, by a label), so
   * it is adopted, not orphaned; else null.
   */
  find(sessionId: string): Promise<ProcessHandle | null>;

  /**
   * How a session is held together, so that a stop ends all of it: `cgroup-v2` / `cgroup-v1`
   * (each session in its own cgroup: nothing it starts can leave), or `process-group` (a process
   * that calls setsid() or setpgid() escapes a stop). Fixed when the adapter is made; for
   * /readyz and the start-up log.
   */
  containment(): Containment;

  /** Called at shutdown: release timers and watchers. Processes keep running. */
  close(): Promise<void>;

  /**
   * Called by interrupt (POST .../interrupt): sends `signal` to the session's whole process group,
   * and nothing more (no grace, no follow-up). Never signals a process that is not the session's.
   * Resolves true when it was sent, false when the process has ended (or the handle names none).
   */
  signal(handle: ProcessHandle, signal: 'SIGINT' | 'SIGTERM'): Promise<boolean>;

  /**
   * Called by input (POST .../input), one call at a time per session: writes `bytes` whole to the
   * session's stdin pipe (launched with `input`). `not_interactive` when it has no pipe, `ended`
   * when nothing reads it any more, `busy` when the pipe stayed full (the session does not read)
   * before a byte was written. Never writes part of `bytes` and gives up.
   */
  writeInput(handle: ProcessHandle, bytes: Buffer): Promise<WriteOutcome>;

  /**
   * Called when an ended session is deleted: frees what the runtime keeps for it besides its
   * files (a container). Releasing what is already gone is a no-op. Local processes: nothing.
   */
  release(handle: ProcessHandle): Promise<void>;
}
