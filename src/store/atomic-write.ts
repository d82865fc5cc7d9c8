// Crash-safe file replacement: temporary file in the same folder, fsync, rename, fsync the folder.
// Only the fsyncs (the calls that wait for the disk) go through the thread pool; open, write,
// close and rename are done on the spot. Each pool round trip costs about 0.25 ms on a busy small
// machine, and a record write was eight of them in a row: most of what a start waited for.
import { randomBytes } from 'node:crypto';
import { closeSync, fsync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';

const fsyncFd = promisify(fsync);

export interface WriteFileAtomicOptions {
  /** Mode of a new file (before umask); default 0600, since records may hold prompts and paths. */
  mode?: number;
  /**
   * Default true. False: the content is still made durable before the rename (a crash never
   * leaves a torn or empty file), but the rename itself is not (a crash of the machine may bring
   * the old file back). One fsync instead of two.
   */
  durableRename?: boolean;
}

/**
 * Replaces `path` with `data` so that a reader, or the file after a crash, sees either the old
 * content or the new one, never a mix. Throws the underlying fs error (with its errno `code`);
 * the temporary file is removed whatever fails.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  const dir = dirname(path);
  // Same folder as the target, because rename is only atomic within one filesystem; the pid and
  // random part keep two writers (or two processes) from ever sharing a temporary file.
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    // 'wx': never follow or reuse something already at the temporary name.
    await writeDurableFile(tmp, data, options.mode ?? 0o600);
    renameSync(tmp, path);
  } catch (err) {
    // The first error is the one worth reporting; failing to clean up after it adds nothing.
    try {
      rmSync(tmp, { force: true });
    } catch {
      // Left for the caller's own clean-up of temporary names.
    }
    throw err;
  }
  if (options.durableRename !== false) await fsyncDir(dir);
}

/** Creates a file that must not exist yet ('wx'), writes `data` and makes it durable. */
export async function writeDurableFile(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  const fd = openSync(path, 'wx', mode);
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    await fsyncFd(fd);
  } finally {
    closeSync(fd);
  }
}

/** Makes a rename, creation or removal inside `dir` durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fd = openSync(dir, 'r');
  try {
    await fsyncFd(fd);
  } catch (err) {
    // Some filesystems cannot fsync a directory (EINVAL); there is nothing stronger to do there.
    if (errnoCode(err) !== 'EINVAL') throw err;
  } finally {
    closeSync(fd);
  }
}

/** The errno code of a Node fs error (`ENOENT`, ...), or undefined for anything else. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') {
    return err.code;
  }
  return undefined;
}
