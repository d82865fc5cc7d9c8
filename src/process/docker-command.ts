// Finds a session's command inside its container before it starts, the way execve would: an
// absolute or relative path as is, a bare name on the session's PATH. Checked in the container's
// own filesystem (its image plus its bind mounts) through the Engine's archive-stat endpoint, so
// "command not found" fails the launch as it does for a local session, instead of the container's
// init printing it to the session's stderr and exiting 127.
import { posix } from 'node:path';
import type Docker from 'dockerode';

/** The fields of the Engine's X-Docker-Container-Path-Stat header this reads. */
interface PathStat {
  mode: number;
  linkTarget: string;
}

// Go's os.FileMode type bits, as the Engine reports them.
const MODE_DIR = 2 ** 31;
const MODE_SYMLINK = 2 ** 27;
const MAX_LINKS = 16;
/** Docker's default PATH for a container whose environment has none. */
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export type CommandCheck = { ok: true; path: string } | { ok: false; problem: 'not_found' | 'not_executable'; detail: string };

async function statPath(container: Docker.Container, path: string): Promise<PathStat | null> {
  let response: { headers?: Record<string, string | string[] | undefined>; resume?: () => void };
  try {
    response = (await container.infoArchive({ path })) as typeof response;
  } catch (err) {
    // 404: no such path (the Engine says "no such container" for both; the container was just made).
    if ((err as { statusCode?: number }).statusCode === 404) return null;
    throw err;
  }
  // The answer is the HTTP response itself: read to its (empty) end, or its socket stays open.
  response.resume?.();
  const header = response.headers?.['x-docker-container-path-stat'];
  if (typeof header !== 'string') throw new Error(`the engine gave no stat for ${path}`);
  const parsed = JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as Partial<PathStat>;
  return { mode: Number(parsed.mode ?? 0), linkTarget: typeof parsed.linkTarget === 'string' ? parsed.linkTarget : '' };
}

/** Follows symlinks to the file `path` names; null when it does not exist. */
async function resolveFile(container: Docker.Container, path: string): Promise<{ path: string; stat: PathStat } | null> {
  let current = path;
  for (let hop = 0; hop <= MAX_LINKS; hop += 1) {
    const stat = await statPath(container, current);
    if (!stat) return null;
    if ((stat.mode & MODE_SYMLINK) === 0) return { path: current, stat };
    // The Engine resolves the link target to an absolute path in the container.
    current = posix.resolve(posix.dirname(current), stat.linkTarget);
  }
  return null;
}

/** Where `command` is in the container, or why it cannot run. `cwd` and `pathVar` are the session's. */
export async function findCommandIn(container: Docker.Container, command: string, cwd: string, pathVar: string | undefined): Promise<CommandCheck> {
  const candidates = command.includes('/')
    ? [posix.resolve(cwd, command)]
    : (pathVar ?? DEFAULT_PATH)
        .split(':')
        .filter((dir) => dir.startsWith('/'))
        .map((dir) => posix.join(dir, command));
  let notExecutable: string | null = null;
  for (const candidate of candidates) {
    const found = await resolveFile(container, candidate);
    if (!found) continue;
    const isDir = (found.stat.mode & MODE_DIR) !== 0;
    if (!isDir && (found.stat.mode & 0o111) !== 0) return { ok: true, path: candidate };
    notExecutable ??= candidate;
  }
  if (notExecutable !== null) return { ok: false, problem: 'not_executable', detail: `${notExecutable} is not an executable file in the container` };
  return { ok: false, problem: 'not_found', detail: command.includes('/') ? `${command} does not exist in the container` : `not on PATH in the container` };
}
