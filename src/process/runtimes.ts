// The runtime router: one ProcessAdapter in front of every runtime this service offers (local
// processes, Docker containers). A launch goes to the runtime its spec names; everything else
// goes to the runtime that made the handle (a handle says `runtime: "docker"`; anything else is
// local, as every handle written before containers existed). The service sees one port.
import type { RuntimeName } from '../../schemas/runtime.js';
import { SessionError } from '../sessions/errors.js';
import { LaunchError, type LaunchSpec, type PrepareRequest, type ProcessAdapter, type ProcessHandle, type ProcessState, type WriteOutcome } from './adapter.js';
import type { Containment } from './cgroup.js';

export type RuntimeAdapters = { local: ProcessAdapter } & Partial<Record<Exclude<RuntimeName, 'local'>, ProcessAdapter>>;

/** The runtime that made `handle`. */
export function runtimeOf(handle: ProcessHandle): RuntimeName {
  return (handle as { runtime?: unknown }).runtime === 'docker' ? 'docker' : 'local';
}

export function createRuntimeRouter(adapters: RuntimeAdapters): ProcessAdapter {
  const all = Object.values(adapters).filter((a): a is ProcessAdapter => a !== undefined);
  const byName = (name: RuntimeName): ProcessAdapter | undefined => adapters[name];
  const forHandle = (handle: ProcessHandle): ProcessAdapter | undefined => byName(runtimeOf(handle));
  const ENDED: ProcessState = { state: 'ended', exit_code: null, exit_signal: null, ended_at: null };

  return {
    prepare(request: PrepareRequest) {
      const runtime = request.runtime ?? 'local';
      const adapter = byName(runtime);
      if (!adapter) return Promise.reject(new SessionError('validation_failed', `runtime ${runtime} is not offered by this service (SESSIOND_RUNTIMES)`));
      return adapter.prepare(request);
    },
    launch(spec: LaunchSpec) {
      const runtime = spec.runtime ?? 'local';
      const adapter = byName(runtime);
      if (!adapter) return Promise.reject(new LaunchError(`the ${runtime} runtime is not running in this service (SESSIOND_RUNTIMES)`));
      return adapter.launch(spec);
    },
    inspect(handle) {
      // A handle of a runtime no longer offered: nothing here can watch it.
      return forHandle(handle)?.inspect(handle) ?? Promise.resolve(ENDED);
    },
    terminate(handle, graceMs) {
      return forHandle(handle)?.terminate(handle, graceMs) ?? Promise.resolve(ENDED);
    },
    watch(onEnded) {
      const stops = all.map((adapter) => adapter.watch(onEnded));
      return () => {
        for (const stop of stops) stop();
      };
    },
    track(sessionId, handle) {
      const adapter = forHandle(handle) ?? adapters.local;
      adapter.track(sessionId, handle);
    },
    untrack(sessionId) {
      for (const adapter of all) adapter.untrack(sessionId);
    },
    async find(sessionId) {
      for (const adapter of all) {
        const handle = await adapter.find(sessionId);
        if (handle) return handle;
      }
      return null;
    },
    containment(): Containment {
      return adapters.local.containment();
    },
    async close() {
      await Promise.all(all.map((adapter) => adapter.close()));
    },
    signal(handle, signal) {
      return forHandle(handle)?.signal(handle, signal) ?? Promise.resolve(false);
    },
    writeInput(handle, bytes): Promise<WriteOutcome> {
      return forHandle(handle)?.writeInput(handle, bytes) ?? Promise.resolve('ended');
    },
    release(handle) {
      return forHandle(handle)?.release(handle) ?? Promise.resolve();
    },
  };
}
