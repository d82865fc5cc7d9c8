// What sessiond and its native keeper (keeper.c) say to each other: the spec sent on the keeper's
// fd 4, the one-line report it writes on fd 3, and the files it leaves in the state folder.
import type { CgroupVersion } from './cgroup.js';

export interface KeeperSpec {
  command: string;
  args: string[];
  cwd: string;
  stdoutPath: string;
  stderrPath: string;
  stateDir: string;
  /**
   * The workspace roots. The keeper changes into `cwd`, resolves where it landed, and refuses to
   * start the command unless that is inside one of them: a path checked earlier may have been
   * swapped for a symlink since. Empty: no check.
   */
  roots: string[];
  /** Run the command as this user (the keeper stays the service's user). */
  runAs: { uid: number; gid: number } | null;
  /**
   * The session's cgroup to create; the keeper moves itself in, starts the command (which is
   * born inside it), and moves itself back to `home`.
   */
  cgroup: { version: CgroupVersion; dir: string; home: string } | null;
  /** `pipe`: stdin is the FIFO `<stateDir>/stdin`, held open by the keeper; `null`: /dev/null. */
  stdin: 'pipe' | 'null';
  /** With a pipe: bytes the keeper puts in it before the command starts (an agent's first message). */
  stdinInitial: string;
}

export type KeeperReport =
  | { ok: true; pid: number; start_ticks: number; keeper_pid: number; cgroup: string | null }
  | { ok: false; error: string; code: string | null };

/** Contents of <stateDir>/exit.json. */
export interface ExitRecord {
  exit_code: number | null;
  exit_signal: string | null;
  ended_at: string;
}

export const EXIT_FILE = 'exit.json';
export const KEEPER_FILE = 'keeper.json';
export const STDIN_FIFO = 'stdin';
/** The keeper program's file name (built from keeper.c next to this module). */
export const KEEPER_PROGRAM = 'sessiond-keeper';
/** The program that starts keepers for the service (launcher.c), next to the keeper. */
export const LAUNCHER_PROGRAM = 'sessiond-launcher';
/** Earlier versions ran `node keeper.js <stateDir>`; their sessions are still adopted after an upgrade. */
const KEEPER_NAMES = new Set([KEEPER_PROGRAM, 'keeper.js']);
const SPEC_MAGIC = 'sessiond-keeper-spec-3';

/** The spec as keeper.c reads it: NUL-terminated fields (a NUL cannot occur in an argv or path). */
export function encodeKeeperSpec(spec: KeeperSpec): Buffer {
  for (const text of [spec.command, spec.cwd, ...spec.args, ...spec.roots, spec.stdinInitial]) {
    // exec would cut such an argument short; a NUL is refused as Node's spawn refuses it.
    if (text.includes('\0')) throw new TypeError('an argument, command or path holds a NUL byte');
  }
  const fields = [
    SPEC_MAGIC,
    spec.command,
    spec.cwd,
    spec.stdoutPath,
    spec.stderrPath,
    spec.stateDir,
    String(spec.args.length),
    ...spec.args,
    String(spec.roots.length),
    ...spec.roots,
    spec.runAs ? `${spec.runAs.uid}:${spec.runAs.gid}` : '',
    String(spec.cgroup?.version ?? 0),
    spec.cgroup?.dir ?? '',
    spec.cgroup?.home ?? '',
    spec.stdin,
    spec.stdinInitial,
  ];
  return Buffer.from(fields.map((field) => `${field}\0`).join(''));
}

/** Whether `argv` is a keeper's (`.../sessiond-keeper <stateDir>`, or an old `node .../keeper.js <stateDir>`) for `stateDir`. */
export function isKeeperFor(argv: string[] | null, stateDir: string): boolean {
  if (argv === null || argv.length < 2 || argv.at(-1) !== stateDir) return false;
  const program = argv.at(-2) ?? '';
  return KEEPER_NAMES.has(program.slice(program.lastIndexOf('/') + 1));
}
