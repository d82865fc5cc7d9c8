// Admission: what a start request must pass before any record is written: a printable name, an
// allowed command resolved on PATH, working directories inside the roots, the claude arguments.
import type { StartSessionBody } from '../../schemas/requests.js';
import type { SessionRecord } from '../../schemas/session.js';
import { buildArgs, checkAgentRequest, resolveAllowedCommand, type Resume } from './commands.js';
import { SessionError } from './errors.js';
import { resolveInsideRoots } from './paths.js';

export interface AdmissionConfig {
  allowedCommands: string[];
  workspaceRoots: string[];
  defaultCommand: string;
  childEnv: Record<string, string>;
}

/** A start request checked and resolved: everything a launch needs. */
export interface LaunchPlan {
  command: string;
  /** The absolute path the command resolved to. */
  executable: string;
  args: string[];
  workingDirectory: string;
  runtimeWriteRoot: string | null;
}

/** `resume`: the start continues an agent session (POST .../continue). */
export async function admit(body: StartSessionBody, config: AdmissionConfig, resume?: Resume): Promise<LaunchPlan> {
  if (/[\u0000-\u001f\u007f]/.test(body.name) || body.name.trim() === '') {
    throw new SessionError('validation_failed', 'name must contain printable characters only');
  }
  const command = body.command ?? config.defaultCommand;
  checkAgentRequest(command, body);
  const executable = await resolveAllowedCommand(command, config.allowedCommands, config.childEnv.PATH);
  const roots = config.workspaceRoots;
  const workingDirectory = await resolveInsideRoots('working_directory', body.working_directory, roots);
  const runtimeWriteRoot = body.runtime_write_root ? await resolveInsideRoots('runtime_write_root', body.runtime_write_root, roots) : null;
  return { command, executable, args: buildArgs(command, body, resume), workingDirectory, runtimeWriteRoot };
}

/**
 * The plan of a queued session, checked again when its turn comes: the command must still be
 * allowed and resolve, the directories must still be inside the roots.
 */
export async function replan(record: SessionRecord, config: AdmissionConfig): Promise<LaunchPlan> {
  const executable = await resolveAllowedCommand(record.command, config.allowedCommands, config.childEnv.PATH);
  const roots = config.workspaceRoots;
  const workingDirectory = await resolveInsideRoots('working_directory', record.working_directory, roots);
  const runtimeWriteRoot = record.runtime_write_root ? await resolveInsideRoots('runtime_write_root', record.runtime_write_root, roots) : null;
  return { command: record.command, executable, args: record.args, workingDirectory, runtimeWriteRoot };
}
