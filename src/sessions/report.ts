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

/** Allowed lag between a session's recorded start and the mtime of a file it wrote at once. */
const CLOCK_SLACK_MS = 1000;

/**
 * The first candidate that is a regular file reached without a symlink (`report.md` and
 * `outputs/` alike: the API would otherwise serve whatever file on the host a link points to),
 * written since `since` when given (a report left by an earlier session in the same folder is
 * not this session's).
 */
export async function findReport(dirs: Array<string | null>, since?: string): Promise<string | null> {
  const notBefore = since === undefined ? null : Date.parse(since) - CLOCK_SLACK_MS;
  for (const candidate of reportCandidates(dirs)) {
    const parent = path.dirname(candidate);
    if (path.basename(parent) === 'outputs') {
      const dir = await fs.lstat(parent).catch(() => null);
      if (!dir?.isDirectory()) continue;
    }
    const stat = await fs.lstat(candidate).catch(() => null);
    if (!stat?.isFile()) continue;
    if (notBefore !== null && stat.mtimeMs < notBefore) continue;
    return candidate;
  }
  return null;
}
