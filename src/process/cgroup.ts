// Cgroups as session containers: where this service may create them (cgroup v2, or a writable v1
// hierarchy), and how one is emptied. A process leaves its process group with setsid() or
// setpgid(), but it cannot leave its cgroup without privileges, so a session's cgroup holds
// everything the session started, escaped or not, and emptying it is what systemd's
// KillMode=control-group does. Node builtins only, synchronous where the keeper needs it: the
// keeper imports this module.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, sep } from 'node:path';

export type CgroupVersion = 1 | 2;
export type Containment = 'cgroup-v2' | 'cgroup-v1' | 'process-group';

/** One mounted cgroup hierarchy, from /proc/self/mountinfo. */
export interface CgroupHierarchy {
  version: CgroupVersion;
  /** v1: the controller this hierarchy is named by in /proc/<pid>/cgroup (`pids`, `name=systemd`); '' for v2. */
  controller: string;
  mountPoint: string;
  /** The mount's root inside the hierarchy (a container may see only a subtree). */
  mountRoot: string;
}

/** Where a service's sessions get their cgroups: `<home>/sessiond/<one per session>`. */
export interface CgroupPlace {
  version: CgroupVersion;
  controller: string;
  /** The cgroup this process is in; keepers go back to it once their command has started. */
  home: string;
  base: string;
}

/** The folder the service creates under its own cgroup; session cgroups go inside it. */
export const CGROUP_BASE_NAME = 'sessiond';
/** A session cgroup's name: `s-<session id>-<8 hex>`, the suffix making it unique per launch. */
const SESSION_CGROUP = /^s-[A-Za-z0-9_-]{1,200}-[0-9a-f]{8}$/;
/** v1 hierarchies a session may be put in: controllers that limit nothing until told to. */
const V1_CANDIDATES = ['pids', 'freezer'];

function errorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException | null;
  return e?.code ?? (e instanceof Error ? e.message : String(err));
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescapeMount(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

export function parseMountinfo(text: string): CgroupHierarchy[] {
  const found: CgroupHierarchy[] = [];
  for (const line of text.split('\n')) {
    // id parent major:minor root mountpoint options [optional fields] - fstype source superoptions
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const left = line.slice(0, dash).split(' ');
    const [fstype, , superOptions = ''] = line.slice(dash + 3).split(' ');
    const mountRoot = left[3];
    const mountPoint = left[4];
    if (mountRoot === undefined || mountPoint === undefined) continue;
    if (fstype === 'cgroup2') {
      found.push({ version: 2, controller: '', mountPoint: unescapeMount(mountPoint), mountRoot: unescapeMount(mountRoot) });
    } else if (fstype === 'cgroup') {
      const options = superOptions.split(',');
      const controller = V1_CANDIDATES.find((c) => options.includes(c)) ?? options.find((o) => o.startsWith('name=')) ?? '';
      if (controller) found.push({ version: 1, controller, mountPoint: unescapeMount(mountPoint), mountRoot: unescapeMount(mountRoot) });
    }
  }
  return found;
}

/** This process's path in `hierarchy`, from the text of /proc/<pid>/cgroup; null when absent. */
export function cgroupPathIn(hierarchy: Pick<CgroupHierarchy, 'version' | 'controller'>, procCgroup: string): string | null {
  for (const line of procCgroup.split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const id = line.slice(0, first);
    const controllers = line.slice(first + 1, second).split(',');
    const path = line.slice(second + 1);
    if (hierarchy.version === 2 ? id === '0' && controllers.join('') === '' : controllers.includes(hierarchy.controller)) return path;
  }
  return null;
}

/** The folder of this process's own cgroup in `hierarchy`, or null when it is outside the mount. */
function ownCgroupDir(hierarchy: CgroupHierarchy, procCgroup: string): string | null {
  const path = cgroupPathIn(hierarchy, procCgroup);
  if (path === null) return null;
  const rel = relative(hierarchy.mountRoot, path);
  if (rel.startsWith('..')) return null;
  return join(hierarchy.mountPoint, rel);
}

/** Creates `<own cgroup>/sessiond` and proves a session cgroup can be made in it. */
function tryPlace(hierarchy: CgroupHierarchy, procCgroup: string): CgroupPlace | string {
  const home = ownCgroupDir(hierarchy, procCgroup);
  const label = hierarchy.version === 2 ? 'cgroup v2' : `cgroup v1 (${hierarchy.controller})`;
  if (home === null) return `${label} at ${hierarchy.mountPoint}: this process's cgroup is not under the mount`;
  // Checked first: nothing is created at a mount point that does not hold a cgroup.
  if (!existsSync(join(home, 'cgroup.procs'))) return `${label}: ${home} has no cgroup.procs`;
  const base = join(home, CGROUP_BASE_NAME);
  const probe = join(base, `probe-${process.pid}-${Math.random().toString(16).slice(2, 10)}`);
  try {
    mkdirSync(base, { recursive: true });
    mkdirSync(probe);
    rmdirSync(probe);
  } catch (err) {
    return `${label}: cannot create cgroups in ${base} (${errorText(err)})`;
  }
  return { version: hierarchy.version, controller: hierarchy.controller, home, base };
}

/**
 * Finds where sessions' cgroups can go: cgroup v2 first (it has cgroup.kill), then a v1
 * hierarchy with a harmless controller. `want` restricts the choice. Null, with the reasons,
 * when none is usable (the process group is then the only containment).
 */
export function findCgroupPlace(
  want: 'auto' | 'cgroup-v2' | 'cgroup-v1',
  read: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): { place: CgroupPlace | null; reasons: string[] } {
  let hierarchies: CgroupHierarchy[];
  let procCgroup: string;
  try {
    hierarchies = parseMountinfo(read('/proc/self/mountinfo'));
    procCgroup = read('/proc/self/cgroup');
  } catch (err) {
    return { place: null, reasons: [`cannot read /proc: ${errorText(err)}`] };
  }
  const order = [
    ...(want === 'cgroup-v1' ? [] : hierarchies.filter((h) => h.version === 2)),
    ...(want === 'cgroup-v2' ? [] : V1_CANDIDATES.flatMap((c) => hierarchies.filter((h) => h.version === 1 && h.controller === c))),
  ];
  const reasons: string[] = [];
  for (const hierarchy of order) {
    const result = tryPlace(hierarchy, procCgroup);
    if (typeof result !== 'string') return { place: result, reasons };
    reasons.push(result);
  }
  if (order.length === 0) reasons.push(want === 'auto' ? 'no cgroup hierarchy is mounted' : `no ${want} hierarchy is mounted`);
  return { place: null, reasons };
}

/** The mounted hierarchy `dir` lies in, or null. */
export function hierarchyOf(dir: string, hierarchies: CgroupHierarchy[]): CgroupHierarchy | null {
  return hierarchies.find((h) => dir.startsWith(h.mountPoint.endsWith(sep) ? h.mountPoint : h.mountPoint + sep)) ?? null;
}

/** The cgroup hierarchies mounted here; empty when /proc cannot tell. */
export function readHierarchies(): CgroupHierarchy[] {
  try {
    return parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'));
  } catch {
    return [];
  }
}

/** Whether `dir` is shaped like a session cgroup this service made (a forged handle names nothing else). */
export function isSessionCgroupDir(dir: string): boolean {
  return dir.startsWith(sep) && !dir.split(sep).includes('..') && SESSION_CGROUP.test(basename(dir)) && basename(dirname(dir)) === CGROUP_BASE_NAME;
}

/** A fresh session cgroup name for `sessionId`. */
export function sessionCgroupName(sessionId: string, random: string): string {
  const safe = sessionId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 200) || 'session';
  return `s-${safe}-${random}`;
}

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return true; // gone
  }
}

/** Live (not zombie) pids in the cgroup; empty when the cgroup is gone. */
export function cgroupPidsSync(dir: string): number[] {
  let text: string;
  try {
    text = readFileSync(join(dir, 'cgroup.procs'), 'utf8');
  } catch {
    return [];
  }
  // A zombie runs nothing and cannot be killed; v1 lists it until its parent reaps it.
  return text.split('\n').filter((line) => /^\d+$/.test(line)).map(Number).filter((pid) => !isZombie(pid));
}

/** Whether `pid` is still in the cgroup named `name`: checked right before a signal, against pid reuse. */
function isMember(pid: number, version: CgroupVersion, controller: string, name: string): boolean {
  try {
    const path = cgroupPathIn({ version, controller }, readFileSync(`/proc/${pid}/cgroup`, 'utf8'));
    return path !== null && basename(path) === name;
  } catch {
    return false;
  }
}

/**
 * Sends `signal` to every process in the cgroup. SIGKILL on v2 is one write to cgroup.kill
 * (the kernel kills all, forks included); otherwise each listed pid, checked to be a member
 * just before. Returns how many processes were listed.
 */
export function signalCgroupSync(dir: string, version: CgroupVersion, controller: string, signal: NodeJS.Signals, skip?: (pid: number) => boolean): number {
  const pids = cgroupPidsSync(dir);
  if (pids.length === 0) return 0;
  if (version === 2 && signal === 'SIGKILL') {
    try {
      writeFileSync(join(dir, 'cgroup.kill'), '1');
      return pids.length;
    } catch {
      // No cgroup.kill (a kernel before 5.14): one by one below.
    }
  }
  const name = basename(dir);
  for (const pid of pids) {
    if (!isMember(pid, version, controller, name) || skip?.(pid)) continue;
    try {
      process.kill(pid, signal);
    } catch {
      // Gone meanwhile, or not ours to signal (EPERM): the loop around looks again.
    }
  }
  return pids.length;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/**
 * SIGKILLs the cgroup until nothing lives in it (a process may fork while it is being killed),
 * for at most `timeoutMs` (a process stuck in the kernel may take long). True when it is empty.
 */
export function emptyCgroupSync(dir: string, version: CgroupVersion, controller: string, timeoutMs: number): boolean {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (signalCgroupSync(dir, version, controller, 'SIGKILL') === 0) return true;
    if (performance.now() >= deadline) return false;
    sleepSync(5);
  }
}

/** Removes an empty cgroup; false when it could not (still populated, or never made). */
export function removeCgroupSync(dir: string): boolean {
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      rmdirSync(dir);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return true;
      // EBUSY: the last member is still being torn down by the kernel.
      if (code !== 'EBUSY') return false;
      sleepSync(5);
    }
  }
  return false;
}

/** Moves process `pid` (all its threads) into the cgroup at `dir`. */
export function moveIntoCgroupSync(dir: string, pid: number): void {
  writeFileSync(join(dir, 'cgroup.procs'), String(pid));
}
