// `prepare` for the runtimes whose world is this host: the command checked against the allow-list
// (and, for a local session, resolved on the sessions' PATH: what runs is what was checked), the
// working directory and runtime_write_root resolved inside the workspace roots (a container's are
// this host's folders, bind-mounted at the same paths). Errors are the API's own.
import { allowedByName, resolveAllowedCommand } from '../sessions/commands.js';
import { resolveInsideRoots } from '../sessions/paths.js';
import type { PrepareRequest, Prepared } from './adapter.js';

export interface HostChecks {
  /** SESSIOND_ALLOWED_COMMANDS. */
  allowedCommands: string[];
  /** The sessions' PATH (the filtered environment's). */
  path: string | undefined;
  /** SESSIOND_WORKSPACE_ROOTS. */
  workspaceRoots: string[];
}

/** Checks allowing everything on this host's folders (a test's adapter made without checks). */
export const OPEN_CHECKS: HostChecks = { allowedCommands: ['*'], path: undefined, workspaceRoots: ['/'] };

/**
 * `where`: `host` resolves the command on PATH (a local process); `container` checks it by name
 * only (the image's files are not the host's: it is found on the container's PATH at launch).
 */
export async function prepareOnHost(request: PrepareRequest, checks: HostChecks, where: 'host' | 'container'): Promise<Prepared> {
  let executable = request.command;
  if (where === 'host') executable = await resolveAllowedCommand(request.command, checks.allowedCommands, checks.path);
  else allowedByName(request.command, checks.allowedCommands);
  const roots = checks.workspaceRoots;
  const workingDirectory = await resolveInsideRoots('working_directory', request.workingDirectory, roots);
  const runtimeWriteRoot = request.runtimeWriteRoot ? await resolveInsideRoots('runtime_write_root', request.runtimeWriteRoot, roots) : null;
  return { executable, workingDirectory, runtimeWriteRoot };
}
