// Admission: what a start request must pass before any record is written: a printable name, the
// claude arguments, where it runs (the runtime, and a container's image, limits and network), and
// the runtime's own checks (prepare: an allowed command, working directories inside the roots).
import type { StartSessionBody } from '../../schemas/requests.js';
import type { NetworkName, RuntimeName } from '../../schemas/runtime.js';
import type { SessionLimits, SessionRecord } from '../../schemas/session.js';
import type { PrepareRequest, Prepared } from '../process/adapter.js';
import { buildArgs, checkAgentRequest, type Resume } from './commands.js';
import { SessionError } from './errors.js';

export interface AdmissionConfig {
  defaultCommand: string;
  runtimes: RuntimeName[];
  defaultRuntime: RuntimeName;
  dockerImages: string[];
  defaultLimits: SessionLimits;
}

/** Where a session runs; image, limits and network only for a container. */
export interface RuntimePlan {
  runtime: RuntimeName;
  image: string | null;
  limits: SessionLimits | null;
  network: NetworkName | null;
}

/** A start request checked and resolved: everything a launch needs. */
export interface LaunchPlan extends RuntimePlan {
  command: string;
  /** The absolute path the command resolved to. */
  executable: string;
  args: string[];
  workingDirectory: string;
  runtimeWriteRoot: string | null;
}

/** The runtime's own checks of a command and its directories (ProcessAdapter.prepare). */
export type Prepare = (request: PrepareRequest) => Promise<Prepared>;

/**
 * The service's own rules first (a printable name, the agent options, a runtime and image this
 * service offers), then the runtime's checks in its own world (`prepare`: the command against the
 * allow-list, the directories inside the roots). `resume`: the start continues an agent session.
 */
export async function admit(body: StartSessionBody, config: AdmissionConfig, prepare: Prepare, resume?: Resume): Promise<LaunchPlan> {
  if (/[\u0000-\u001f\u007f]/.test(body.name) || body.name.trim() === '') {
    throw new SessionError('validation_failed', 'name must contain printable characters only');
  }
  const command = body.command ?? config.defaultCommand;
  checkAgentRequest(command, body);
  const where = runtimePlan(body, config);
  const prepared = await prepare({
    command,
    workingDirectory: body.working_directory,
    runtimeWriteRoot: body.runtime_write_root ?? null,
    runtime: where.runtime,
  });
  return { command, args: buildArgs(command, body, resume), ...prepared, ...where };
}

/** The runtime, and for a container its image (from the allow-list), limits and network. */
export function runtimePlan(body: Pick<StartSessionBody, 'runtime' | 'image' | 'limits' | 'network'>, config: AdmissionConfig): RuntimePlan {
  const runtime = body.runtime ?? config.defaultRuntime;
  if (!config.runtimes.includes(runtime)) {
    throw new SessionError('validation_failed', `runtime ${runtime} is not offered by this service (SESSIOND_RUNTIMES: ${config.runtimes.join(', ')})`);
  }
  if (runtime === 'local') {
    if (body.limits !== undefined) throw new SessionError('limits_unsupported', 'the local runtime cannot enforce limits: ask for runtime docker, or leave limits out');
    if (body.image !== undefined || body.network !== undefined) {
      throw new SessionError('validation_failed', 'image and network are for container sessions (runtime docker)');
    }
    return { runtime, image: null, limits: null, network: null };
  }
  const image = body.image ?? config.dockerImages[0];
  if (image === undefined || !config.dockerImages.includes(image)) {
    throw new SessionError('image_not_allowed', `image ${image ?? '(none)'} is not in SESSIOND_DOCKER_IMAGES`);
  }
  const defaults = config.defaultLimits;
  const limits: SessionLimits = {
    memory_bytes: body.limits?.memory_bytes ?? defaults.memory_bytes,
    cpus: body.limits?.cpus ?? defaults.cpus,
    pids: body.limits?.pids ?? defaults.pids,
  };
  return { runtime, image, limits, network: body.network ?? 'none' };
}

/**
 * The plan of a queued session, checked again when its turn comes: the command must still be
 * allowed and resolve, the directories must still be inside the roots.
 */
export async function replan(record: SessionRecord, config: AdmissionConfig, prepare: Prepare): Promise<LaunchPlan> {
  const runtime = record.runtime ?? 'local';
  if (!config.runtimes.includes(runtime)) throw new SessionError('validation_failed', `runtime ${runtime} is no longer offered by this service`);
  if (record.image !== null && !config.dockerImages.includes(record.image)) {
    throw new SessionError('image_not_allowed', `image ${record.image} is no longer in SESSIOND_DOCKER_IMAGES`);
  }
  const prepared = await prepare({
    command: record.command,
    workingDirectory: record.working_directory,
    runtimeWriteRoot: record.runtime_write_root,
    runtime,
  });
  return {
    command: record.command,
    args: record.args,
    ...prepared,
    runtime,
    image: record.image,
    limits: record.limits,
    network: record.network ?? null,
  };
}
