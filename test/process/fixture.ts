// A local adapter on real processes for the hardening tests (containment, working directory,
// keeper spec, full disk): a temporary folder, launches cleaned up in teardown, and ways to see
// processes from outside (/proc) the way an attacker or an operator would.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import type { LaunchSpec, ProcessAdapter, ProcessHandle, ProcessState, SessionFilesOf } from '../../src/process/adapter.js';
import { createLocalProcessAdapter, type LocalProcessAdapterOptions, type LocalProcessHandle } from '../../src/process/local.js';
import { readState } from '../../src/process/proc-stat.js';
import { eventually } from '../helper.js';

export const PATH = process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin';

/** A launch spec, and where its session's files are (the adapter finds them by the session's id). */
export type TestSpec = LaunchSpec & { stdoutPath: string; stderrPath: string; stateDir: string };

/** The files of session `id` under `dir`, as a store would place them. */
export function filesUnder(dir: string): SessionFilesOf {
  return (id) => ({ stdout: path.join(dir, `${id}.stdout.log`), stderr: path.join(dir, `${id}.stderr.log`), stateDir: path.join(dir, `${id}.state`) });
}

export interface Fixture {
  adapter: ProcessAdapter;
  /** Real path of the test's folder; `cwd` inside it is the default working directory. */
  dir: string;
  cwd: string;
  /** Where each session's files are (given to every adapter made on this fixture). */
  files: SessionFilesOf;
  spec(command: string, args: string[], extra?: Partial<LaunchSpec>): TestSpec;
  /** Launches and registers the process for clean-up. */
  launch(command: string, args: string[], extra?: Partial<LaunchSpec>): Promise<LocalProcessHandle>;
  /** Kills `pid` in teardown unless it is gone by then (for processes a test expects to survive). */
  reap(pid: number): void;
}

export async function fixture(t: Test, options: LocalProcessAdapterOptions = {}, dataDir?: string): Promise<Fixture> {
  // First: it throws when a required containment is not available, before anything is made.
  const dir = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'sessiond-hard-')));
  const files = filesUnder(dataDir ?? dir);
  const adapter = createLocalProcessAdapter({ pollIntervalMs: 50, files, ...options });
  const cwd = path.join(dir, 'cwd');
  await fs.mkdir(cwd);
  const handles: ProcessHandle[] = [];
  const strays: number[] = [];
  t.teardown(async () => {
    for (const handle of handles) await adapter.terminate(handle, 100);
    for (const pid of strays) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone, as it should be.
      }
    }
    await adapter.close();
    await fs.rm(dir, { recursive: true, force: true });
  });
  let n = 0;
  const spec = (command: string, args: string[], extra: Partial<LaunchSpec> = {}): TestSpec => {
    n += 1;
    const launch: LaunchSpec = { sessionId: `s${n}`, command, args, cwd, env: { PATH }, ...extra };
    const where = files(launch.sessionId);
    return { ...launch, stdoutPath: where.stdout, stderrPath: where.stderr, stateDir: where.stateDir };
  };
  return {
    adapter,
    dir,
    cwd,
    files,
    spec,
    async launch(command, args, extra) {
      const handle = (await adapter.launch(spec(command, args, extra))) as LocalProcessHandle;
      handles.push(handle);
      return handle;
    },
    reap(pid) {
      strays.push(pid);
    },
  };
}

/** Gone, or a zombie nobody reaps (a container's pid 1 may not): either way not running. */
export async function isDead(pid: number): Promise<boolean> {
  const state = await readState(pid);
  return state === null || state === 'Z';
}

/** The number a script wrote to `file` (a line ending in a newline), once it is there. */
export function pidFrom(file: string, timeoutMs = 10_000): Promise<number> {
  return eventually(async () => {
    const text = await fs.readFile(file, 'utf8').catch(() => '');
    return text.endsWith('\n') ? Number(text.trim()) : undefined;
  }, timeoutMs);
}

/** Pids of the live processes that hold `file` open (any descriptor): who could still write to it. */
export async function holdersOf(file: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fds = await fs.readdir(`/proc/${entry}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      if ((await fs.readlink(`/proc/${entry}/fd/${fd}`).catch(() => '')) === file) {
        if (!(await isDead(Number(entry)))) found.push(Number(entry));
        break;
      }
    }
  }
  return found;
}

let watchCount = 0;

/** The end of `handle` as the adapter's watch reports it. */
export function ended(adapter: ProcessAdapter, handle: ProcessHandle, timeoutMs = 20_000): Promise<Extract<ProcessState, { state: 'ended' }>> {
  const id = `watched-${++watchCount}`;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      adapter.untrack(id);
      reject(new Error(`process still running after ${timeoutMs} ms`));
    }, timeoutMs);
    const off = adapter.watch((sessionId, state) => {
      if (sessionId !== id) return;
      clearTimeout(timer);
      off();
      adapter.untrack(id);
      resolve(state);
    });
    adapter.track(id, handle);
  });
}
