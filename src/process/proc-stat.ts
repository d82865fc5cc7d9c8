// Reading a process's identity from Linux /proc: its state, group and start time (from
// /proc/<pid>/stat) and its argv (from /proc/<pid>/cmdline). Shared by the local adapter and the keeper.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

export interface ProcStat {
  pid: number;
  comm: string;
  /** One letter: R, S, D, Z, T, ... (proc(5)). */
  state: string;
  ppid: number;
  pgrp: number;
  /** Field 22: start time in clock ticks since boot. With the pid, it names one process for good. */
  startTicks: number;
}

/**
 * Parses the text of /proc/<pid>/stat. The comm field (2) is in parentheses and may itself hold
 * spaces and ')', so the numbered fields are counted from after the LAST ')'.
 */
export function parseProcStat(text: string): ProcStat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  const comm = text.slice(open + 1, close);
  // rest[0] is field 3 (state), so field n is rest[n - 3].
  const rest = text.slice(close + 1).trim().split(/\s+/);
  const state = rest[0];
  const ppid = Number(rest[1]);
  const pgrp = Number(rest[2]);
  const startTicks = Number(rest[19]);
  if (state === undefined || state.length !== 1) return null;
  if (![pid, ppid, pgrp, startTicks].every(Number.isSafeInteger)) return null;
  return { pid, comm, state, ppid, pgrp, startTicks };
}

function statPath(pid: number): string | null {
  // A pid of 0 or below, or a non-integer, is never one process; refuse rather than read /proc/self.
  return Number.isSafeInteger(pid) && pid > 0 ? `/proc/${pid}/stat` : null;
}

function isGone(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  // ESRCH: the process went away between open and read.
  return code === 'ENOENT' || code === 'ESRCH';
}

/** The parsed stat of `pid`, or null when there is no such process. */
export async function readProcStat(pid: number): Promise<ProcStat | null> {
  const path = statPath(pid);
  if (path === null) return null;
  try {
    return parseProcStat(await readFile(path, 'utf8'));
  } catch (err) {
    if (isGone(err)) return null;
    throw err;
  }
}

/** Synchronous twin of readProcStat, for the keeper: it must read the stat before its event loop can reap the child. */
export function readProcStatSync(pid: number): ProcStat | null {
  const path = statPath(pid);
  if (path === null) return null;
  try {
    return parseProcStat(readFileSync(path, 'utf8'));
  } catch (err) {
    if (isGone(err)) return null;
    throw err;
  }
}

/** Start time of `pid` in clock ticks since boot, or null when there is no such process. */
export async function readStartTicks(pid: number): Promise<number | null> {
  return (await readProcStat(pid))?.startTicks ?? null;
}

/** State letter of `pid` (R, S, Z, ...), or null when there is no such process. */
export async function readState(pid: number): Promise<string | null> {
  return (await readProcStat(pid))?.state ?? null;
}

/** The argv of `pid`, or null when there is no such process. Empty for kernel threads and zombies. */
export async function readCmdline(pid: number): Promise<string[] | null> {
  if (!Number.isSafeInteger(pid) || pid <= 0) return null;
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    const args = raw.split('\0');
    if (args.at(-1) === '') args.pop();
    return args;
  } catch (err) {
    if (isGone(err)) return null;
    throw err;
  }
}
