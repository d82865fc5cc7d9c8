// Finds and opens a session's report.md (in its working directory or runtime write root, at the
// root or under outputs/) without ever reaching a file outside that directory: the folder is
// opened and its real path checked on the descriptor, everything below it is opened through that
// descriptor without following links, and the file is checked on its own descriptor before a read.
import { constants, type Stats } from 'node:fs';
import fs, { type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { isInside } from './paths.js';

export const REPORT_FILE = 'report.md';
const OUTPUTS_DIR = 'outputs';

/** Allowed lag between a session's recorded start and the mtime of a file it wrote at once. */
const CLOCK_SLACK_MS = 1000;

/** O_NONBLOCK: a FIFO named report.md must not hold a thread of the pool until someone writes. */
const FILE_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY;
const CHILD_DIR_FLAGS = DIR_FLAGS | constants.O_NOFOLLOW;

/**
 * Linux names every open descriptor under /proc/self/fd: a path through it starts at the opened
 * folder itself, whatever has been renamed or replaced by a link since (openat(2), which Node
 * lacks). Elsewhere the folder's checked real path is used, which a swap can still race.
 */
const FD_DIR = '/proc/self/fd';
let fdPaths: Promise<boolean> | undefined;
const hasFdPaths = () => (fdPaths ??= fs.stat(FD_DIR).then((s) => s.isDirectory(), () => false));

export interface ReportLookup {
  /** The session's working directory and runtime write root, as recorded (real paths at admission). */
  dirs: Array<string | null>;
  /** The session's start: an older report in the same folder is not this session's. */
  since?: string;
  /** The workspace roots: each folder must still resolve inside one of them now. */
  roots?: readonly string[];
  /** Who may own report.md: the service's own uid by default (add a run-as uid where sessions use one). */
  owners?: readonly number[];
}

export interface OpenedReport {
  /** Open on the checked file: read (or stream) from it, then close it. */
  handle: FileHandle;
  /** Bytes in the file when it was checked. */
  size: number;
  /** Where it was found (for logs only: never open it again by this path). */
  path: string;
}

/**
 * The first acceptable report, opened: a regular file with exactly one link (a hard link to a
 * file elsewhere is refused), owned by an allowed uid, written since `since`, reached without a
 * symlink below the session's folder (report.md and outputs/ alike), in a folder whose real path
 * is still the one recorded and still inside the roots. Null when there is none. The caller
 * closes the handle.
 */
export async function openReport(lookup: ReportLookup): Promise<OpenedReport | null> {
  const notBefore = lookup.since === undefined ? null : Date.parse(lookup.since) - CLOCK_SLACK_MS;
  const owners = lookup.owners ?? defaultOwners();
  const roots = lookup.roots ? await realRoots(lookup.roots) : null;
  for (const dir of lookup.dirs) {
    if (!dir) continue;
    const base = await openSessionDir(dir, roots);
    if (!base) continue;
    try {
      for (const sub of [null, OUTPUTS_DIR]) {
        const found = await openInside(base, sub, (stat) => acceptable(stat, owners, notBefore));
        if (found) return { ...found, path: path.join(dir, ...(sub ? [sub] : []), REPORT_FILE) };
      }
    } finally {
      await base.handle.close().catch(() => undefined);
    }
  }
  return null;
}

/** Whether the session has an acceptable report now (for the end-of-session status); same rules as openReport. */
export async function findReport(dirs: Array<string | null>, since?: string, options: Omit<ReportLookup, 'dirs' | 'since'> = {}): Promise<string | null> {
  const found = await openReport({ ...options, dirs, since });
  if (!found) return null;
  await found.handle.close().catch(() => undefined);
  return found.path;
}

interface OpenDir {
  handle: FileHandle;
  /** A path that names this very folder for as long as the handle is open. */
  via: string;
}

/**
 * Opens a session folder (following links: the recorded path itself is trusted) and checks where
 * the opened folder really is: exactly the recorded real path, and inside the roots when given.
 * A folder replaced by a link to somewhere else after the start fails here.
 */
async function openSessionDir(dir: string, roots: string[] | null): Promise<OpenDir | null> {
  const handle = await fs.open(dir, DIR_FLAGS).catch(() => null);
  if (!handle) return null;
  try {
    let real: string;
    let via: string;
    if (await hasFdPaths()) {
      via = `${FD_DIR}/${handle.fd}`;
      real = await fs.readlink(via);
    } else {
      real = await fs.realpath(dir);
      const [opened, named] = await Promise.all([handle.stat(), fs.stat(real)]);
      if (opened.dev !== named.dev || opened.ino !== named.ino) throw new Error('moved');
      via = real;
    }
    if (real !== path.resolve(dir)) throw new Error('moved');
    if (roots && !roots.some((root) => isInside(root, real))) throw new Error('outside');
    return { handle, via };
  } catch {
    await handle.close().catch(() => undefined);
    return null;
  }
}

/** Opens report.md in `base` (or in its `sub` folder, itself no link) and keeps it when `accept` says so. */
async function openInside(
  base: OpenDir,
  sub: string | null,
  accept: (stat: Stats) => boolean,
): Promise<Omit<OpenedReport, 'path'> | null> {
  let dir: OpenDir = base;
  let subHandle: FileHandle | null = null;
  try {
    if (sub) {
      subHandle = await fs.open(path.join(base.via, sub), CHILD_DIR_FLAGS).catch(() => null);
      if (!subHandle) return null;
      dir = { handle: subHandle, via: (await hasFdPaths()) ? `${FD_DIR}/${subHandle.fd}` : path.join(base.via, sub) };
    }
    // ELOOP (a link), ENOENT, EACCES...: no report here.
    const handle = await fs.open(path.join(dir.via, REPORT_FILE), FILE_FLAGS).catch(() => null);
    if (!handle) return null;
    const stat = await handle.stat().catch(() => null);
    if (stat && accept(stat)) return { handle, size: stat.size };
    await handle.close().catch(() => undefined);
    return null;
  } finally {
    await subHandle?.close().catch(() => undefined);
  }
}

function acceptable(stat: Stats, owners: readonly number[], notBefore: number | null): boolean {
  if (!stat.isFile() || stat.nlink !== 1) return false;
  if (owners.length > 0 && !owners.includes(stat.uid)) return false;
  return notBefore === null || stat.mtimeMs >= notBefore;
}

function defaultOwners(): number[] {
  const uid = process.geteuid?.();
  return uid === undefined ? [] : [uid];
}

async function realRoots(roots: readonly string[]): Promise<string[]> {
  return Promise.all(roots.map((root) => fs.realpath(root).catch(() => path.resolve(root))));
}
