// Crash-safe file replacement: temporary file in the same folder, fsync, rename, fsync the folder.
import { randomBytes } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface WriteFileAtomicOptions {
  /** Mode of a new file (before umask); default 0600, since records may hold prompts and paths. */
  mode?: number;
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
  let fh: FileHandle | undefined;
  try {
    // 'wx': never follow or reuse something already at the temporary name.
    fh = await open(tmp, 'wx', options.mode ?? 0o600);
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, path);
  } catch (err) {
    // The first error is the one worth reporting; failing to clean up after it adds nothing.
    await fh?.close().catch(() => undefined);
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  await fsyncDir(dir);
}

/** Makes a rename, creation or removal inside `dir` durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } catch (err) {
    // Some filesystems cannot fsync a directory (EINVAL); there is nothing stronger to do there.
    if (errnoCode(err) !== 'EINVAL') throw err;
  } finally {
    await fh.close();
  }
}

/** The errno code of a Node fs error (`ENOENT`, ...), or undefined for anything else. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') {
    return err.code;
  }
  return undefined;
}
