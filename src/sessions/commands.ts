// Which commands may run, and the argument list a start request turns into.
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import type { StartSessionBody } from '../../schemas/requests.js';
import { AGENT_INPUT_MAX_BYTES, inputLine } from '../agent/input-message.js';
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
    // Synchronous and without an error per miss: every start walks PATH, most entries miss, and
    // a stat of a local path is microseconds, where a rejected promise with its ENOENT error was
    // most of a start's CPU outside the launch.
    const s = statSync(candidate, { throwIfNoEntry: false });
    if (!s?.isFile()) continue;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not executable by us: the search goes on, as a shell's would.
    }
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

/**
 * A container session's command, checked by name against SESSIOND_ALLOWED_COMMANDS (the image's
 * files are not the host's: it is looked up on the container's PATH at launch). Throws command_not_allowed.
 */
export function allowedByName(command: string, allowed: string[]): void {
  const isName = COMMAND_NAME.test(command);
  const isPath = COMMAND_PATH.test(command) && path.normalize(command) === command;
  if (!isName && !isPath) {
    throw new SessionError('command_not_allowed', 'command must be a bare program name or a normalised absolute path, with no shell syntax');
  }
  const named = allowed.includes('*') || allowed.includes(command);
  if (!named) throw new SessionError('command_not_allowed', `command ${command} is not in SESSIOND_ALLOWED_COMMANDS`);
}

/** What a continued session resumes: the parent's agent session id, and whether to fork it. */
export interface Resume {
  sessionId: string;
  fork: boolean;
}

export const isClaude = (command: string) => path.basename(command) === 'claude';

/**
 * `claude --print --verbose [options] -- <prompt>`, when the caller gave no args. The prompt comes
 * after `--`, so one that starts with `-` is never read as an option (and `--` also ends the
 * values of --allowedTools, which takes everything up to the next option).
 */
export function buildArgs(command: string, body: StartSessionBody, resume?: Resume): string[] {
  if (body.args) return body.args;
  const prompt = body.prompt ?? '';
  if (!isClaude(command) || prompt.length === 0) return [];
  const args = ['--print', '--verbose'];
  if (body.agent && body.agent.stream_json !== false) args.push('--output-format', 'stream-json');
  // With input the prompt is the first user message on stdin (see initialInput): claude reads
  // its prompt from there with --input-format stream-json, not from an argument.
  const input = body.agent?.input === true;
  if (input) args.push('--input-format', 'stream-json');
  if (body.permission_mode) args.push('--permission-mode', body.permission_mode);
  if (resume) {
    args.push('--resume', resume.sessionId);
    if (resume.fork) args.push('--fork-session');
  }
  if (body.allowed_tools && body.allowed_tools.length > 0) args.push('--allowedTools', ...body.allowed_tools);
  if (!input) args.push('--', prompt);
  return args;
}

/** What an agent session with input finds on stdin when it starts: its prompt, as a user message. */
export function initialInput(agent: { input?: boolean } | null | undefined, prompt: string | null | undefined): string | undefined {
  if (agent?.input !== true || !prompt) return undefined;
  return inputLine({ text: prompt });
}

/** An agent session is claude with a prompt, its arguments built by sessiond. Throws validation_failed. */
export function checkAgentRequest(command: string, body: StartSessionBody): void {
  if (!body.agent) return;
  if (!isClaude(command)) throw new SessionError('validation_failed', `agent sessions run claude; the command ${command} is not claude`);
  if (body.args) throw new SessionError('validation_failed', 'agent sessions build claude’s arguments themselves: pass prompt (and permission_mode, allowed_tools), not args');
  if (body.agent.input && body.agent.stream_json === false) {
    throw new SessionError('validation_failed', 'agent.input needs agent.stream_json: claude takes stream-json input only with stream-json output');
  }
  if (body.agent.input && body.prompt && Buffer.byteLength(body.prompt) > AGENT_INPUT_MAX_BYTES) {
    throw new SessionError('validation_failed', `with agent.input the prompt is the first input message, at most ${AGENT_INPUT_MAX_BYTES} bytes`);
  }
  if (!body.prompt) throw new SessionError('validation_failed', 'an agent session needs a prompt');
}
