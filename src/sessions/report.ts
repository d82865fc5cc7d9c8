// Finds a session's report.md: in its working directory or runtime write root, at the root or under outputs/.
import fs from 'node:fs/promises';
import path from 'node:path';

export const REPORT_FILE = 'report.md';

/** Candidate places, in the order they are tried. */
export function reportCandidates(dirs: Array<string | null>): string[] {
  const out: string[] = [];
  for (const dir of dirs) {
    if (!dir) continue;
    out.push(path.join(dir, REPORT_FILE), path.join(dir, 'outputs', REPORT_FILE));
  }
  return out;
}

/**
 * The first candidate that is a regular file. A symlink is not followed: the API would otherwise
 * serve whatever file on the host the link points to.
 */
export async function findReport(dirs: Array<string | null>): Promise<string | null> {
  for (const candidate of reportCandidates(dirs)) {
    const stat = await fs.lstat(candidate).catch(() => null);
    if (stat?.isFile()) return candidate;
  }
  return null;
}
