// The keeper: a tiny standalone program that is the parent of one session's process.
// Why it exists: only a process's parent can learn how it ended (its exit code or signal), and
// sessiond may be stopped, restarted or upgraded while sessions keep running. So sessiond starts
// this keeper (detached), the keeper starts the command in the command's own process group (and,
// where the host allows, its own cgroup), and when the command ends the keeper kills what is left
// of the session, writes <stateDir>/exit.json and exits. sessiond only reads files.
//
// Run as: node keeper.js <stateDir>, with the session's environment as its own. The argv names
// only the state folder (so `ps` shows no arguments, prompt or working directory, yet a keeper can
// be told from another); the spec comes as JSON on fd 4 (a pipe from the adapter, read to EOF).
// Reports once on fd 3: {"ok":true,pid,start_ticks,keeper_pid,cgroup} or {"ok":false,error,code}.
// Node builtins only: it must start fast and never break on an install.
import { spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  constants,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readSync,
  realpathSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join, sep } from 'node:path';
import {
  emptyCgroupSync,
  moveIntoCgroupSync,
  removeCgroupSync,
  type CgroupVersion,
} from './cgroup.js';
import { readProcStatSync } from './proc-stat.js';

export interface KeeperSpec {
  command: string;
  args: string[];
  cwd: string;
  stdoutPath: string;
  stderrPath: string;
  stateDir: string;
  /**
   * The workspace roots. The keeper changes into `cwd`, resolves where it landed, and refuses to
   * start the command unless that is inside one of them: a path checked earlier may have been
   * swapped for a symlink since. Empty: no check.
   */
  roots: string[];
  /** Run the command as this user (the keeper stays the service's user). */
  runAs: { uid: number; gid: number } | null;
  /**
   * The session's cgroup to create; the keeper moves itself in, starts the command (which is
   * born inside it), and moves itself back to `home`.
   */
  cgroup: { version: CgroupVersion; controller: string; dir: string; home: string } | null;
}

export type KeeperReport =
  | { ok: true; pid: number; start_ticks: number; keeper_pid: number; cgroup: string | null }
  | { ok: false; error: string; code: string | null };

/** Contents of <stateDir>/exit.json. */
export interface ExitRecord {
  exit_code: number | null;
  exit_signal: string | null;
  ended_at: string;
}

/** Contents of <stateDir>/keeper.json: enough to find the session again after a restart of sessiond. */
export interface KeeperRecord {
  pid: number;
  start_ticks: number;
  keeper_pid: number;
  /** The session's cgroup, when it has one. */
  cgroup: string | null;
}

// The same names are spelled in local.ts, which must not import this module (importing it runs it).
const EXIT_FILE = 'exit.json';
const KEEPER_FILE = 'keeper.json';
const REPORT_FD = 3;
const SPEC_FD = 4;
const MAX_SPEC_BYTES = 16 * 1024 * 1024;
/** Room kept for exit.json from the start, so a full disk at the end cannot cost the exit status. */
const EXIT_RESERVE_BYTES = 4096;
/** How long the keeper waits for the killed rest of the session to be gone before it records the end. */
const EMPTY_TIMEOUT_MS = 5_000;
const WRITE_RETRY_FIRST_MS = 100;
const WRITE_RETRY_MAX_MS = 5_000;
// Signals a user (or sessiond, or a terminal) may send the keeper; they are meant for the session.
const FORWARDED: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

let reported = false;
/** The reserved exit.json file, removed when the launch fails. */
let reservedPath: string | null = null;

function report(message: KeeperReport): void {
  if (reported) return;
  reported = true;
  const bytes = Buffer.from(JSON.stringify(message) + '\n');
  try {
    let done = 0;
    while (done < bytes.length) done += writeSync(REPORT_FD, bytes, done);
    closeSync(REPORT_FD);
  } catch {
    // fd 3 is closed (the adapter gave up or died) or was never open (keeper run by hand):
    // nobody is listening, and keeper.json / exit.json still record everything that matters.
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

function errorCode(err: unknown): string | null {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? code : null;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function fail(error: string, code: string | null): never {
  report({ ok: false, error, code });
  if (reservedPath !== null) {
    try {
      unlinkSync(reservedPath);
    } catch {
      // Never made, or gone.
    }
  }
  process.exit(1);
}

/** Writes all of `text` at the start of `fd`, cuts the file there and flushes it. */
function writeWhole(fd: number, text: string): void {
  const bytes = Buffer.from(text);
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, done);
  ftruncateSync(fd, bytes.length);
  fsyncSync(fd);
}

/** Temporary file in the same folder, fsync, rename: a reader sees the old file or the whole new one. */
function writeAtomic(dir: string, name: string, value: unknown): void {
  const tmp = join(dir, `.${name}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeWhole(fd, JSON.stringify(value) + '\n');
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(dir, name));
}

/**
 * The temporary file exit.json will be written through, filled (so its blocks are taken) now,
 * while there is room: rewriting it in place and renaming it need no new space.
 */
function reserveExitFile(dir: string): string {
  const path = join(dir, `.${EXIT_FILE}.${process.pid}.reserved`);
  const fd = openSync(path, 'w', 0o600);
  try {
    const filler = Buffer.alloc(EXIT_RESERVE_BYTES, ' ');
    let done = 0;
    while (done < filler.length) done += writeSync(fd, filler, done);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return path;
}

/** exit.json through the reserved file; else a fresh one. Throws when neither can be written. */
function writeExit(dir: string, reserved: string, record: ExitRecord): void {
  const text = JSON.stringify(record) + '\n';
  try {
    const fd = openSync(reserved, constants.O_WRONLY | constants.O_NOFOLLOW);
    try {
      writeWhole(fd, text);
    } finally {
      closeSync(fd);
    }
    renameSync(reserved, join(dir, EXIT_FILE));
    return;
  } catch {
    // The reserved file is gone or unusable: write a new one, which needs space.
  }
  writeAtomic(dir, EXIT_FILE, record);
  try {
    unlinkSync(reserved);
  } catch {
    // Already gone.
  }
}

/**
 * Records the end, and keeps trying while it cannot (a full disk, say): the keeper stays alive
 * holding the status until it is written, then exits. sessiond treats a live keeper as a session
 * still finishing, so the status is waited for, not lost.
 */
function recordExit(dir: string, reserved: string, record: ExitRecord): void {
  let delay = WRITE_RETRY_FIRST_MS;
  const attempt = (): void => {
    try {
      writeExit(dir, reserved, record);
    } catch {
      setTimeout(attempt, delay);
      delay = Math.min(delay * 2, WRITE_RETRY_MAX_MS);
      return;
    }
    process.exit(0);
  };
  attempt();
}

/** The spec, read to EOF from fd 4. Nonblocking fds answer EAGAIN until the adapter has written. */
function readSpecText(): string {
  const chunks: Buffer[] = [];
  const buffer = Buffer.alloc(64 * 1024);
  let total = 0;
  try {
    for (;;) {
      let n: number;
      try {
        n = readSync(SPEC_FD, buffer, 0, buffer.length, null);
      } catch (err) {
        if (errorCode(err) !== 'EAGAIN') throw err;
        Atomics.wait(sleeper, 0, 0, 2);
        continue;
      }
      if (n === 0) break;
      total += n;
      if (total > MAX_SPEC_BYTES) fail(`keeper: spec is over ${MAX_SPEC_BYTES} bytes`, null);
      chunks.push(Buffer.from(buffer.subarray(0, n)));
    }
  } catch (err) {
    fail(`keeper: cannot read its spec on fd ${SPEC_FD}: ${errorMessage(err)}`, errorCode(err));
  }
  try {
    closeSync(SPEC_FD);
  } catch {
    // Closed already.
  }
  return Buffer.concat(chunks).toString('utf8');
}

const isId = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isText = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

function parseSpec(raw: string, stateDir: string | undefined): KeeperSpec {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    fail(`keeper: spec is not JSON: ${errorMessage(err)}`, null);
  }
  const spec = value as Partial<KeeperSpec> | null;
  const cgroup = spec?.cgroup;
  const runAs = spec?.runAs;
  if (
    spec === null ||
    ![spec.command, spec.cwd, spec.stdoutPath, spec.stderrPath, spec.stateDir].every(isText) ||
    !Array.isArray(spec.args) ||
    !spec.args.every((a) => typeof a === 'string') ||
    !Array.isArray(spec.roots) ||
    !spec.roots.every(isText) ||
    !(runAs === null || (isId(runAs?.uid) && isId(runAs?.gid))) ||
    !(cgroup === null || ((cgroup?.version === 1 || cgroup?.version === 2) && isText(cgroup.dir) && isText(cgroup.home) && typeof cgroup.controller === 'string'))
  ) {
    fail('keeper: spec needs command, args, cwd, stdoutPath, stderrPath, stateDir, roots, runAs and cgroup', null);
  }
  if (spec.stateDir !== stateDir) fail('keeper: the spec is for another state folder than the one named in argv', null);
  return spec as KeeperSpec;
}

/** Whether `dir` (a real path) is one of `roots` or inside one. Roots are resolved here, now. */
function insideRoots(dir: string, roots: string[]): boolean {
  return roots.some((root) => {
    let real: string;
    try {
      real = realpathSync.native(root);
    } catch {
      return false; // a root that does not exist holds nothing
    }
    return dir === real || dir.startsWith(real.endsWith(sep) ? real : real + sep);
  });
}

/**
 * Makes the keeper's own working directory the session's, checked: whatever `cwd` pointed at
 * when it was resolved, the directory the keeper is now in is what the command inherits (it is
 * spawned with no cwd of its own), so no later swap of a path can move it.
 */
function enterWorkingDirectory(spec: KeeperSpec): void {
  try {
    process.chdir(spec.cwd);
  } catch (err) {
    fail(`cannot enter the working directory: ${errorMessage(err)}`, errorCode(err));
  }
  if (spec.roots.length === 0) return;
  let here: string;
  try {
    // getcwd(3): the kernel's path to the directory we are in, with no symlink in it. Not
    // resolved again: a path, unlike the directory we hold, can be swapped meanwhile.
    here = process.cwd();
  } catch (err) {
    fail(`cannot resolve the working directory: ${errorMessage(err)}`, errorCode(err));
  }
  if (!insideRoots(here, spec.roots)) {
    fail('the working directory resolved outside the workspace roots when the process was started (was it replaced by a symlink?)', 'EOUTSIDE');
  }
}

/** Opens a log for appending; a symlink put in its place is refused, not followed. */
function openLog(path: string): number {
  return openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
}

function main(): void {
  const stateDir = process.argv[2];
  const spec = parseSpec(readSpecText(), stateDir);

  // Installed before the spawn so that an early signal is not fatal to the keeper; it is
  // passed on as soon as there is a session to pass it to.
  let pid: number | undefined;
  let ended = false;
  const pending: NodeJS.Signals[] = [];
  const cgroup = spec.cgroup;
  const forward = (signal: NodeJS.Signals): void => {
    if (ended) return;
    if (pid === undefined) {
      pending.push(signal);
      return;
    }
    try {
      process.kill(-pid, signal);
    } catch (err) {
      // ESRCH: the group is already empty; the exit handler is about to run.
      if (errorCode(err) !== 'ESRCH') throw err;
    }
  };
  for (const signal of FORWARDED) process.on(signal, forward);

  let reserved: string;
  try {
    reserved = reserveExitFile(spec.stateDir);
    reservedPath = reserved;
  } catch (err) {
    fail(`cannot reserve room for ${EXIT_FILE}: ${errorMessage(err)}`, errorCode(err));
  }

  let outFd: number;
  let errFd: number;
  try {
    outFd = openLog(spec.stdoutPath);
    errFd = openLog(spec.stderrPath);
  } catch (err) {
    fail(`cannot open log file: ${errorMessage(err)}`, errorCode(err));
  }

  enterWorkingDirectory(spec);

  if (cgroup) {
    let made = false;
    try {
      mkdirSync(cgroup.dir, 0o755);
      made = true;
      moveIntoCgroupSync(cgroup.dir, process.pid);
    } catch (err) {
      if (made) removeCgroupSync(cgroup.dir);
      fail(`cannot put the session in its cgroup ${cgroup.dir}: ${errorMessage(err)}`, errorCode(err));
    }
  }

  let child: ChildProcess | undefined;
  let spawnError: unknown = null;
  try {
    child = spawn(spec.command, spec.args, {
      // No cwd: the child inherits the directory the keeper checked (enterWorkingDirectory).
      // The keeper's own environment is the session's: the adapter started it with spec.env.
      env: process.env,
      stdio: ['ignore', outFd, errFd],
      // Own process group (pgid = pid): a SIGKILL to the session's group cannot hit the keeper.
      detached: true,
      shell: false,
      ...(spec.runAs ? { uid: spec.runAs.uid, gid: spec.runAs.gid } : {}),
    });
  } catch (err) {
    // Invalid arguments (a NUL byte, say) throw instead of emitting 'error'.
    spawnError = err;
  } finally {
    // The child holds its own copies of the log descriptors.
    closeSync(outFd);
    closeSync(errFd);
  }

  if (cgroup) {
    // The command was born in the cgroup; the keeper leaves it, so that emptying the cgroup
    // (a stop, or the end) never kills the keeper before it has recorded the end.
    try {
      moveIntoCgroupSync(cgroup.home, process.pid);
    } catch (err) {
      if (child?.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // Gone already.
        }
      }
      fail(`cannot leave the session's cgroup: ${errorMessage(err)}`, errorCode(err));
    }
  }
  if (spawnError !== null || child === undefined) {
    if (cgroup) removeCgroupSync(cgroup.dir);
    fail(errorMessage(spawnError), errorCode(spawnError));
  }

  child.on('error', (err) => {
    // Before a pid this is a failed spawn (ENOENT, EACCES, EPERM); afterwards nothing the keeper does can raise it.
    if (cgroup) removeCgroupSync(cgroup.dir);
    if (!reported) fail(err.message, errorCode(err));
  });

  child.on('exit', (code, signal) => {
    ended = true;
    // The session is everything it started. What the command leaves behind (a background job, a
    // child that ignored the SIGTERM its parent obeyed, one that left the group with setsid)
    // would run on unseen once the session has ended, out of reach of stop; so it goes with the
    // command, as in a container or a systemd service. The group id cannot be reused while
    // members remain, so only leftovers are hit; the cgroup holds only this session.
    if (pid !== undefined) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // ESRCH: nothing was left in the group (the usual case). Anything else (EPERM from a
        // member that changed its user) must not keep the keeper from recording the exit status.
      }
    }
    // Nothing of the session may outlive the record of its end (and write to its log after it).
    if (cgroup && emptyCgroupSync(cgroup.dir, cgroup.version, cgroup.controller, EMPTY_TIMEOUT_MS)) removeCgroupSync(cgroup.dir);
    recordExit(spec.stateDir, reserved, { exit_code: code, exit_signal: signal, ended_at: new Date().toISOString() });
  });

  if (child.pid === undefined) return; // the 'error' handler reports and exits
  pid = child.pid;

  // Read synchronously, before the event loop runs: until then the child cannot be reaped, so
  // /proc/<pid>/stat still exists even if the command has already ended (it is a zombie).
  const stat = readProcStatSync(pid);
  if (stat === null) {
    // Not expected (see above); say so, and still let the exit handler record the status.
    report({ ok: false, error: `process ${pid} vanished before its start time was read`, code: null });
    return;
  }
  const record: KeeperRecord = { pid, start_ticks: stat.startTicks, keeper_pid: process.pid, cgroup: cgroup?.dir ?? null };
  try {
    writeAtomic(spec.stateDir, KEEPER_FILE, record);
  } catch (err) {
    // The state folder is unusable: fail the launch and take the command down rather than leave
    // it running unsupervised (the exit handler still tries to record its end).
    report({ ok: false, error: `cannot write ${KEEPER_FILE}: ${errorMessage(err)}`, code: errorCode(err) });
    forward('SIGKILL');
    return;
  }
  report({ ok: true, ...record });
  for (const signal of pending.splice(0)) forward(signal);
}

main();
