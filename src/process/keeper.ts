// The keeper: a tiny standalone program that is the parent of one session's process.
// Why it exists: only a process's parent can learn how it ended (its exit code or signal), and
// sessiond may be stopped, restarted or upgraded while sessions keep running. So sessiond starts
// this keeper (detached), the keeper starts the command in the command's own process group, and
// when the command ends the keeper kills what is left of its group, writes <stateDir>/exit.json
// and exits. sessiond only reads files.
//
// Run as: node keeper.js '<json KeeperSpec>'  with the session's environment as its own.
// Reports once on fd 3 (a pipe from the adapter): {"ok":true,pid,start_ticks,keeper_pid} or
// {"ok":false,error,code}. Node builtins only: it must start fast and never break on an install.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { readProcStatSync } from './proc-stat.js';

export interface KeeperSpec {
  command: string;
  args: string[];
  cwd: string;
  stdoutPath: string;
  stderrPath: string;
  stateDir: string;
}

export type KeeperReport =
  | { ok: true; pid: number; start_ticks: number; keeper_pid: number }
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
}

// The same names are spelled in local.ts, which must not import this module (importing it runs it).
const EXIT_FILE = 'exit.json';
const KEEPER_FILE = 'keeper.json';
const REPORT_FD = 3;
// Signals a user (or sessiond, or a terminal) may send the keeper; they are meant for the session.
const FORWARDED: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

let reported = false;

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

/** Temporary file in the same folder, fsync, rename: a reader sees the old file or the whole new one. */
function writeAtomic(dir: string, name: string, value: unknown): void {
  const tmp = join(dir, `.${name}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, JSON.stringify(value) + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(dir, name));
}

function errorCode(err: unknown): string | null {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? code : null;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function fail(error: string, code: string | null): never {
  report({ ok: false, error, code });
  process.exit(1);
}

function parseSpec(raw: string | undefined): KeeperSpec {
  let value: unknown;
  try {
    value = JSON.parse(raw ?? '');
  } catch (err) {
    fail(`keeper: spec is not JSON: ${errorMessage(err)}`, null);
  }
  const spec = value as Partial<KeeperSpec> | null;
  const strings = [spec?.command, spec?.cwd, spec?.stdoutPath, spec?.stderrPath, spec?.stateDir];
  if (
    spec === null ||
    !strings.every((s) => typeof s === 'string' && s.length > 0) ||
    !Array.isArray(spec.args) ||
    !spec.args.every((a) => typeof a === 'string')
  ) {
    fail('keeper: spec needs command, args, cwd, stdoutPath, stderrPath and stateDir', null);
  }
  return spec as KeeperSpec;
}

function main(): void {
  const spec = parseSpec(process.argv[2]);

  // Installed before the spawn so that an early signal is not fatal to the keeper; it is
  // passed on as soon as there is a process group to pass it to.
  let pid: number | undefined;
  let ended = false;
  const pending: NodeJS.Signals[] = [];
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

  let outFd: number;
  let errFd: number;
  try {
    outFd = openSync(spec.stdoutPath, 'a');
    errFd = openSync(spec.stderrPath, 'a');
  } catch (err) {
    fail(`cannot open log file: ${errorMessage(err)}`, errorCode(err));
  }

  let child: ChildProcess;
  try {
    child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      // The keeper's own environment is the session's: the adapter started it with spec.env.
      env: process.env,
      stdio: ['ignore', outFd, errFd],
      // Own process group (pgid = pid): a SIGKILL to the session's group cannot hit the keeper.
      detached: true,
      shell: false,
    });
  } catch (err) {
    // Invalid arguments (a NUL byte, say) throw instead of emitting 'error'.
    fail(errorMessage(err), errorCode(err));
  } finally {
    // The child holds its own copies of the log descriptors.
    closeSync(outFd);
    closeSync(errFd);
  }

  child.on('error', (err) => {
    // Before a pid this is a failed spawn (ENOENT, EACCES); afterwards nothing the keeper does can raise it.
    if (!reported) fail(err.message, errorCode(err));
  });

  child.on('exit', (code, signal) => {
    ended = true;
    // The session is its whole process group. What the command leaves behind (a background job,
    // a child that ignored the SIGTERM its parent obeyed) would run on unseen once the session has
    // ended, out of reach of stop; so it goes with the command, as in a container or a systemd
    // service. The group id cannot be reused while members remain, so only leftovers are hit.
    if (pid !== undefined) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // ESRCH: nothing was left in the group (the usual case). Anything else (EPERM from a
        // member that changed its user) must not keep the keeper from recording the exit status.
      }
    }
    const record: ExitRecord = { exit_code: code, exit_signal: signal, ended_at: new Date().toISOString() };
    try {
      writeAtomic(spec.stateDir, EXIT_FILE, record);
    } catch {
      // Nothing left to tell it to: sessiond will see the process gone without exit.json,
      // which it reads as "ended, status unknown". Exiting non-zero is all the keeper can add.
      process.exit(1);
    }
    process.exit(0);
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
  const record: KeeperRecord = { pid, start_ticks: stat.startTicks, keeper_pid: process.pid };
  try {
    writeAtomic(spec.stateDir, KEEPER_FILE, record);
  } catch (err) {
    // The state folder is unusable, so exit.json could not be written either: fail the launch
    // and take the command down rather than leave it running unsupervised.
    report({ ok: false, error: `cannot write ${KEEPER_FILE}: ${errorMessage(err)}`, code: errorCode(err) });
    forward('SIGKILL');
    return;
  }
  report({ ok: true, ...record });
  for (const signal of pending.splice(0)) forward(signal);
}

main();
