// How a container ended, in the ProcessAdapter's terms, from the Engine's `State` (container
// inspect). Pure, so the mapping is tested without an engine. The Engine gives one number: a
// process killed by signal n reads as exit code 128+n (docker-init, the container's pid 1, exits
// so when its child was killed). A command that itself exits with 137 reads the same; the local
// runtime can tell them apart, this one cannot.
import { constants } from 'node:os';
import type { ProcessState } from './adapter.js';

export type EndedState = Extract<ProcessState, { state: 'ended' }>;
/** An end with why, when the engine knows more than the exit status (the memory limit). */
export type DockerEndedState = EndedState & { reason?: string };

/** The fields of the Engine's ContainerState this reads. */
export interface EngineState {
  Status?: string;
  Running?: boolean;
  Restarting?: boolean;
  Paused?: boolean;
  OOMKilled?: boolean;
  Dead?: boolean;
  Pid?: number;
  ExitCode?: number;
  Error?: string;
  FinishedAt?: string;
}

export const OOM_REASON = 'killed for exceeding its memory limit (out of memory)';

const SIGNAL_NAMES = new Map<number, string>(Object.entries(constants.signals).map(([name, n]) => [n, name]));
/** The Engine's zero time: a container that never ran has FinishedAt 0001-01-01T00:00:00Z. */
const ZERO_TIME = /^0001-/;

/** The signal named by an exit code 128+n, or null. */
export function signalOfExitCode(code: number): string | null {
  if (code <= 128 || code > 128 + 64) return null;
  return SIGNAL_NAMES.get(code - 128) ?? null;
}

/** Whether the container's process is still there (running, paused or restarting). */
export function isLive(state: EngineState): boolean {
  return state.Running === true || state.Paused === true || state.Restarting === true;
}

/** The end as the adapter reports it: exit code or signal, and a reason when memory killed it. */
export function endedFromState(state: EngineState): DockerEndedState {
  const endedAt = typeof state.FinishedAt === 'string' && !ZERO_TIME.test(state.FinishedAt) ? state.FinishedAt : null;
  const code = typeof state.ExitCode === 'number' && Number.isSafeInteger(state.ExitCode) ? state.ExitCode : null;
  if (state.OOMKilled === true) {
    // The kernel's OOM killer sends SIGKILL; what the pid 1 makes of it (137, or its own code
    // after a child was killed) does not change why the session ended.
    return { state: 'ended', exit_code: null, exit_signal: 'SIGKILL', ended_at: endedAt, reason: OOM_REASON };
  }
  if (code === null) return { state: 'ended', exit_code: null, exit_signal: null, ended_at: endedAt };
  const signal = signalOfExitCode(code);
  if (signal !== null) return { state: 'ended', exit_code: null, exit_signal: signal, ended_at: endedAt };
  return { state: 'ended', exit_code: code, exit_signal: null, ended_at: endedAt };
}
