// Which commands may run, and the argument list a start request turns into.
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import path from 'node:path';
import type { StartSessionBody } from '../../schemas/requests.js';
import { SessionError } from './errors.js';

/** A bare program name: no path, no shell syntax. */
const COMMAND_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;
/** An absolute path made of ordinary characters only (no shell metacharacters, no spaces). */
const COMMAND_PATH = /^\/[A-Za-z0-9._+\-/]+$/;

/** The first executable file called `name` in the absolute directories of `pathEnv`. */
export async function findOnPath(name: string, pathEnv: string | undefined): Promise<string | null> {
  // Relative PATH entries are skipped: they would make the answer depend on a working directory.
  for (const dir of (pathEnv ?? '').split(':').filter((d) => path.isAbsolute(d))) {
    const candidate = path.join(dir, name);
    const ok = await access(candidate, constants.X_OK)
      .then(() => stat(candidate))
      .then((s) => s.isFile())
      .catch(() => false);
    if (ok) return candidate;
  }
  return null;
}

/**
 * Checks `command` against SESSIOND_ALLOWED_COMMANDS and answers the program to launch: names
 * are resolved on the sessions' PATH now, so what runs is what was checked. An allowed entry
 * may be a name (the name, or the file it resolves to, is allowed) or an absolute path.
 * Throws command_not_allowed before anything is started.
 */
export async function resolveAllowedCommand(command: string, allowed: string[], pathEnv: string | undefined): Promise<string> {
  const isName = COMMAND_NAME.test(command);
  const isPath = COMMAND_PATH.test(command) && path.normalize(command) === command;
  if (!isName && !isPath) {
    throw new SessionError('command_not_allowed', 'command must be a bare program name or a normalised absolute path, with no shell syntax');
  }
  const resolved = isName ? await findOnPath(command, pathEnv) : command;
  if (allowed.includes('*') || allowed.includes(command)) return resolved ?? command;
  const allowedFiles = await Promise.all(
    allowed.map((entry) => (path.isAbsolute(entry) ? entry : findOnPath(entry, pathEnv))),
  );
  if (resolved !== null && allowedFiles.includes(resolved)) return resolved;
  throw new SessionError('command_not_allowed', `command ${command} is not in SESSIOND_ALLOWED_COMMANDS`);
}

/** `claude --print --verbose <prompt>` plus its options, when the caller gave no args. */
export function buildArgs(command: string, body: StartSessionBody): string[] {
  if (body.args) return body.args;
  const prompt = body.prompt ?? '';
  if (path.basename(command) !== 'claude' || prompt.length === 0) return [];
  const args = ['--print', '--verbose', prompt];
  if (body.permission_mode) args.push('--permission-mode', body.permission_mode);
  // Last, because --allowedTools takes every value that follows it.
  if (body.allowed_tools && body.allowed_tools.length > 0) args.push('--allowedTools', ...body.allowed_tools);
  return args;
}
