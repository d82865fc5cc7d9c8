// Which commands may run, and the argument list a start request turns into.
import path from 'node:path';
import type { StartSessionBody } from '../../schemas/requests.js';
import { SessionError } from './errors.js';

/** A bare program name: no path, no shell syntax. */
const COMMAND_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;
/** An absolute path made of ordinary characters only (no shell metacharacters, no spaces). */
const COMMAND_PATH = /^\/[A-Za-z0-9._+\-/]+$/;

export function checkCommandAllowed(command: string, allowed: string[]): void {
  const isName = COMMAND_NAME.test(command);
  const isPath = COMMAND_PATH.test(command) && path.normalize(command) === command;
  if (!isName && !isPath) {
    throw new SessionError('command_not_allowed', 'command must be a bare program name or a normalised absolute path, with no shell syntax');
  }
  if (allowed.includes('*') || allowed.includes(command)) return;
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
