// The exit code of an ended session, as `docker wait` and a shell report it: the process's own
// code, or 128 + the signal number when a signal ended it (SIGKILL: 137, SIGTERM: 143).
import { constants } from 'node:os';
import type { Session } from '../../schemas/session.js';

/** A session that never ran (failed to start): what a shell answers for a command it could not run. */
export const NEVER_RAN = 127;

export function sessionExitCode(session: Pick<Session, 'status' | 'exit_code' | 'exit_signal'>): number {
  if (typeof session.exit_code === 'number') return session.exit_code;
  const number = session.exit_signal ? constants.signals[session.exit_signal as keyof typeof constants.signals] : undefined;
  if (typeof number === 'number') return 128 + number;
  return session.status === 'failed' ? NEVER_RAN : 1;
}
