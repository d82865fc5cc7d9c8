// The runtimes this service offers (SESSIOND_RUNTIMES), made from the config and put behind the
// runtime router: always the local one (sessions written before containers existed are local),
// and the Docker one when it is offered.
import type { Config } from '../config.js';
import type { ProcessAdapter } from './adapter.js';
import { createDockerProcessAdapter } from './docker.js';
import { createLocalProcessAdapter, type AdapterLog } from './local.js';
import { createRuntimeRouter } from './runtimes.js';

export function createRuntimes(config: Config, log: AdapterLog): ProcessAdapter {
  const local = createLocalProcessAdapter({
    pollIntervalMs: config.supervisePollMs,
    workspaceRoots: config.workspaceRoots,
    runAs: config.runAs,
    containment: config.containment,
    log,
  });
  if (!config.runtimes.includes('docker')) return createRuntimeRouter({ local });
  const docker = createDockerProcessAdapter({
    host: config.dockerHost,
    defaultImage: config.dockerImages[0] as string,
    limits: { memoryBytes: config.defaultLimits.memory_bytes, cpus: config.defaultLimits.cpus, pids: config.defaultLimits.pids },
    // The same user as the service's sessions: SESSIOND_RUN_AS, else the service's own.
    ...(config.runAs ? { user: `${config.runAs.uid}:${config.runAs.gid}` } : {}),
    log,
  });
  return createRuntimeRouter({ local, docker });
}
