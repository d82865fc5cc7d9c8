// Running sessions as another user (SESSIOND_RUN_AS): naming the user, and whether this service
// may switch to it. The keeper stays the service's user (it writes the session's state folder
// and opens its logs); only the command it starts runs as the other user.
import { readFileSync } from 'node:fs';

export interface RunAs {
  uid: number;
  gid: number;
}

// CAP_SETGID and CAP_SETUID (capability(7)), as bits of CapEff in /proc/<pid>/status.
const CAP_SETGID = 6n;
const CAP_SETUID = 7n;

const MAX_ID = 2 ** 32 - 2; // (uid_t)-1 means "unchanged" to setuid(2)

function id(text: string, what: string): number {
  if (!/^\d{1,10}$/.test(text) || Number(text) > MAX_ID) throw new Error(`${what} must be a number from 0 to ${MAX_ID}, got "${text}"`);
  return Number(text);
}

/**
 * `uid:gid`, or a user name looked up in `passwd` (the text of /etc/passwd; its primary group
 * is used). Throws an Error whose message says what is wrong.
 */
export function parseRunAs(value: string, passwd: string): RunAs {
  const spec = value.trim();
  const numeric = /^(\d+):(\d+)$/.exec(spec);
  if (numeric) return { uid: id(numeric[1] as string, 'the uid'), gid: id(numeric[2] as string, 'the gid') };
  if (!/^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$/.test(spec)) throw new Error(`"${spec}" is neither a user name nor uid:gid`);
  for (const line of passwd.split('\n')) {
    const fields = line.split(':');
    if (fields[0] === spec && fields.length >= 4) return { uid: id(fields[2] ?? '', 'the uid'), gid: id(fields[3] ?? '', 'the gid') };
  }
  throw new Error(`no user "${spec}" in /etc/passwd (give uid:gid for a user from another source)`);
}

/** Whether this process holds CAP_SETUID and CAP_SETGID (root normally does), from /proc/self/status. */
export function canSwitchUser(status?: string): boolean {
  let text = status;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/status', 'utf8');
    } catch {
      return false;
    }
  }
  const hex = /^CapEff:\s*([0-9a-f]+)$/im.exec(text)?.[1];
  if (hex === undefined) return false;
  const caps = BigInt(`0x${hex}`);
  return ((caps >> CAP_SETUID) & 1n) === 1n && ((caps >> CAP_SETGID) & 1n) === 1n;
}

/** Why SESSIOND_RUN_AS cannot be honoured here, or null when it can. */
export function runAsRefusal(runAs: RunAs | null, status?: string): string | null {
  if (runAs === null || canSwitchUser(status)) return null;
  return (
    `SESSIOND_RUN_AS asks sessions to run as ${runAs.uid}:${runAs.gid}, but this service cannot switch users: ` +
    'it must run as root or hold CAP_SETUID and CAP_SETGID (e.g. systemd AmbientCapabilities=CAP_SETUID CAP_SETGID). ' +
    'Unset SESSIOND_RUN_AS to run sessions as the service\'s own user.'
  );
}
