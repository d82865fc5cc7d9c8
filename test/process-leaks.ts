// Finding processes a test left behind: the real-process suites (e2e, reliability) check in
// teardown that nothing still runs in their workspace, and kill what does.
import { readdir, readFile, readlink } from 'node:fs/promises';
import { readProcStat } from '../src/process/proc-stat.js';
import { eventually } from './helper.js';

/** Alive and not a zombie; with `startTicks`, also still the same process (not a reused pid). */
export async function isRunning(pid: number, startTicks?: number): Promise<boolean> {
  const stat = await readProcStat(pid);
  if (stat === null || stat.state === 'Z' || stat.state === 'X') return false;
  return startTicks === undefined || stat.startTicks === startTicks;
}

/** Pids of the running processes whose working directory is inside `dir`. */
export async function processesIn(dir: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => null);
    if (cwd !== null && (cwd === dir || cwd.startsWith(`${dir}/`)) && (await isRunning(pid))) found.push(pid);
  }
  return found;
}

export async function cmdline(pid: number): Promise<string> {
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ').trim();
}

/**
 * Waits up to `timeoutMs` for every process working inside `dir` to end (keepers take a moment
 * to write exit.json and go), then kills what is left. Returns `<pid> <command line>` of each
 * process it had to kill: empty when the test cleaned up after itself.
 */
export async function reapProcessesIn(dir: string, timeoutMs: number): Promise<string[]> {
  let left: number[];
  try {
    left = await eventually(async () => {
      const pids = await processesIn(dir);
      return pids.length === 0 ? pids : undefined;
    }, timeoutMs);
  } catch {
    left = await processesIn(dir);
  }
  const names = await Promise.all(left.map(async (pid) => `${pid} ${await cmdline(pid)}`));
  for (const pid of left) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone: nothing left to clean up.
    }
  }
  return names;
}
