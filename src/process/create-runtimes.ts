// The runtimes this service offers (SESSIOND_RUNTIMES), made from the config and put behind the
// runtime router: always the local one (sessions written before containers existed are local),
// and the Docker one when it is offered.
import type { Config } from '../config.js';
import type { ProcessAdapter, SessionFilesOf } from './adapter.js';
import type { HostChecks } from './host-prepare.js';
import { createLocalProcessAdapter, type AdapterLog } from './local.js';
import { createRuntimeRouter } from './runtimes.js';

/** `files`: where the store keeps each session's logs and the runtime's state folder. */
export async function createRuntimes(config: Config, log: AdapterLog, files: SessionFilesOf): Promise<ProcessAdapter> {
  // prepare's checks: the same allow-list, sessions' PATH and roots for every runtime on this host.
  const checks: HostChecks = { allowedCommands: config.allowedCommands, path: config.childEnv.PATH, workspaceRoots: config.workspaceRoots };
  const local = createLocalProcessAdapter({
    files,
    checks,
    pollIntervalMs: config.supervisePollMs,
    workspaceRoots: config.workspaceRoots,
    runAs: config.runAs,
    containment: config.containment,
    log,
  });
  if (!config.runtimes.includes('docker')) return createRuntimeRouter({ local });
  // Loaded only when offered: the Engine's client (dockerode, with its gRPC and protobuf) costs
  // about 25 MiB of RSS in a service that never runs a container.
  const { createDockerProcessAdapter } = await import('./docker.js');
  const docker = createDockerProcessAdapter({
    files,
    checks,
    host: config.dockerHost,
    defaultImage: config.dockerImages[0] as string,
    limits: { memoryBytes: config.defaultLimits.memory_bytes, cpus: config.defaultLimits.cpus, pids: config.defaultLimits.pids },
    // The same user as the service's sessions: SESSIOND_RUN_AS, else the service's own.
    ...(config.runAs ? { user: `${config.runAs.uid}:${config.runAs.gid}` } : {}),
    log,
  });
  return createRuntimeRouter({ local, docker });
}
