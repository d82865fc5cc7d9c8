// The disk floor: starts are refused while the data directory has less free space than
// SESSIOND_MIN_FREE_BYTES, so running sessions keep the room they need for their logs.
import { statfs } from 'node:fs/promises';

/** Bytes an unprivileged writer may still use in the file system holding `dir`. */
export async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

const MiB = 1024 * 1024;

/** The reason starts are refused now, or null when there is room. */
export async function belowFloor(dir: string, minFreeBytes: number): Promise<string | null> {
  if (minFreeBytes <= 0) return null;
  const free = await freeBytes(dir);
  if (free >= minFreeBytes) return null;
  return `the data directory has ${(free / MiB).toFixed(1)} MiB free, below SESSIOND_MIN_FREE_BYTES (${(minFreeBytes / MiB).toFixed(1)} MiB): starts are refused until there is room; running sessions, reads and streams go on`;
}
