// The Docker ProcessAdapter: each session is one container of the Docker Engine, driven through
// its API (dockerode over SESSIOND_DOCKER_HOST; never the docker CLI). The container runs the
// command and args as given (no shell) under docker-init, which passes a stop's SIGTERM on to the
// command (a bare pid 1 would ignore it) and reaps what it leaves; the working directory is
// bind-mounted at the same path, read-only unless the session may write; limits, no network by
// default, the service's uid:gid, no capabilities. The container carries the label
// `sessiond.session=<id>`, so the adapter finds it again after a restart, and the session's state
// folder holds container.json for find(). Output goes into the session's own log files
// (docker-logs.ts says how, and what that costs); ends come from the Engine's event stream, with a
// slow safety poll; exit code, signal and an out-of-memory kill come from the Engine's state.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, type Duplex } from 'node:stream';
import Docker from 'dockerode';
import {
  LaunchError,
  type ContainerLimits,
  type ContainerNetwork,
  type ContainerOptions,
  type LaunchSpec,
  type PrepareRequest,
  type Prepared,
  type ProcessAdapter,
  type ProcessHandle,
  type ProcessState,
  type SessionFilesOf,
  type WriteOutcome,
} from './adapter.js';
import { EndWatch } from './end-watch.js';
import { OPEN_CHECKS, prepareOnHost, type HostChecks } from './host-prepare.js';
import { createSleeps } from './sleeps.js';
import type { Containment } from './cgroup.js';
import { findCommandIn } from './docker-command.js';
import { openLogFiles, pumpFrames, writtenBytes, type LogFiles, type LogPump } from './docker-logs.js';
import { endedFromState, isLive, type DockerEndedState, type EngineState } from './docker-state.js';
import type { AdapterLog } from './local.js';

/** The label every container of this service carries; its value is the session id. */
export const SESSION_LABEL = 'sessiond.session';

export type { ContainerLimits, ContainerNetwork, ContainerOptions };
/** The port's LaunchSpec: `container` carries the image, limits, network and mounts. */
export type DockerLaunchSpec = LaunchSpec;

/** What the Docker adapter stores in a session's handle. */
export interface DockerProcessHandle {
  [key: string]: unknown;
  /** The container's pid 1 (docker-init) as the host sees it, at launch; null once it has ended. */
  pid: number | null;
  runtime: 'docker';
  container_id: string;
  /** The container's label must name this session, or the adapter leaves the container alone. */
  session_id: string;
  stdout_path: string;
  stderr_path: string;
  state_dir: string;
}

export interface DockerProcessAdapterOptions {
  /** SESSIOND_DOCKER_HOST: `unix:///var/run/docker.sock`, or `tcp://host:port`. Ignored when `engine` is given. */
  host?: string;
  engine?: Docker;
  /** The image of a launch that names none (the first of SESSIOND_DOCKER_IMAGES). */
  defaultImage: string;
  /** Limits of a launch that sets none (SESSIOND_DEFAULT_MEMORY_BYTES, _CPUS, _PIDS). */
  limits?: ContainerLimits;
  /** Default `none`. */
  network?: ContainerNetwork;
  /** `uid:gid` inside the container. Default: this process's. */
  user?: string;
  /** The safety poll of tracked sessions, besides the event stream. Default 5000 ms. */
  pollIntervalMs?: number;
  log?: AdapterLog;
  /** Where each session's logs and state folder are (the store's). Required to launch or find. */
  files?: SessionFilesOf;
  /** What `prepare` checks a command (by name) and its directories against. Default: anything, anywhere. */
  checks?: HostChecks;
}

export interface DockerProcessAdapter extends ProcessAdapter {
  /** The container made for `sessionId`: from its state folder's container.json, else by its label. */
  find(sessionId: string): Promise<DockerProcessHandle | null>;
}

const CONTAINER_FILE = 'container.json';
/** After a container ended, how long its end waits for the last of its output to reach the files. */
const LOG_DRAIN_MS = 5_000;
const TERMINATE_POLL_MS = 50;
const AFTER_KILL_WAIT_MS = 5_000;
const EVENTS_RETRY_MS = 1_000;
/** The longest wait between attempts to reach an Engine that does not answer. */
const EVENTS_RETRY_MAX_MS = 30_000;
/** How long a write to a session's stdin may take before it counts as busy (the session does not read). */
const INPUT_MS = 5_000;
/** Docker's rule for container names; a session id that breaks it gets an Engine-made name. */
const CONTAINER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,200}$/;

const RUNNING: ProcessState = { state: 'running' };
const ENDED_UNKNOWN: DockerEndedState = { state: 'ended', exit_code: null, exit_signal: null, ended_at: null };

/** The Engine at `host` (SESSIOND_DOCKER_HOST). */
export function engineFromHost(host: string): Docker {
  const url = new URL(host);
  if (url.protocol === 'unix:') return new Docker({ socketPath: url.pathname });
  if (url.protocol === 'tcp:' || url.protocol === 'http:') return new Docker({ host: url.hostname, port: Number(url.port || 2375), protocol: 'http' });
  throw new Error(`SESSIOND_DOCKER_HOST must be unix:///path or tcp://host:port, not ${host}`);
}

function statusOf(err: unknown): number | undefined {
  return (err as { statusCode?: number } | null)?.statusCode;
}

function isInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value);
}

/** The handle as this adapter wrote it, or null for anything else (a failed launch's `{pid: null}`). */
function asDocker(handle: ProcessHandle): DockerProcessHandle | null {
  const h = handle as Partial<DockerProcessHandle>;
  if (h.runtime !== 'docker' || typeof h.container_id !== 'string' || !/^[0-9a-f]{12,64}$/.test(h.container_id) || typeof h.session_id !== 'string') return null;
  if (typeof h.stdout_path !== 'string' || typeof h.stderr_path !== 'string' || typeof h.state_dir !== 'string') return null;
  return { ...h, pid: isInt(h.pid) ? h.pid : null, runtime: 'docker', container_id: h.container_id, session_id: h.session_id, stdout_path: h.stdout_path, stderr_path: h.stderr_path, state_dir: h.state_dir };
}

function filesOf(h: DockerProcessHandle): LogFiles {
  return { stdoutPath: h.stdout_path, stderrPath: h.stderr_path };
}

/** What a state folder's container.json says, or null when there is none (or it cannot be read as one). */
async function readContainerFile(stateDir: string): Promise<Partial<{ container_id: unknown; session_id: unknown }> | null> {
  try {
    const parsed: unknown = JSON.parse(await readFile(join(stateDir, CONTAINER_FILE), 'utf8'));
    return typeof parsed === 'object' && parsed !== null ? (parsed as Partial<{ container_id: unknown; session_id: unknown }>) : null;
  } catch (err) {
    // No container.json: no container was made, or the service died before writing it.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || err instanceof SyntaxError) return null;
    throw err;
  }
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const temporary = `${path}.tmp`;
  await writeFile(temporary, text);
  await rename(temporary, path);
}

/** The Engine's HostConfig resource fields for `limits`. */
function resources(limits: ContainerLimits): Docker.HostConfig {
  const config: Docker.HostConfig = {};
  if (isInt(limits.memoryBytes) && limits.memoryBytes > 0) {
    config.Memory = limits.memoryBytes;
    // No swap on top: the limit is the limit.
    config.MemorySwap = limits.memoryBytes;
  }
  if (typeof limits.cpus === 'number' && limits.cpus > 0) config.NanoCpus = Math.round(limits.cpus * 1e9);
  if (isInt(limits.pids) && limits.pids > 0) config.PidsLimit = limits.pids;
  return config;
}

export function createDockerProcessAdapter(options: DockerProcessAdapterOptions): DockerProcessAdapter {
  const engine = options.engine ?? engineFromHost(options.host ?? 'unix:///var/run/docker.sock');
  const pollIntervalMs = options.pollIntervalMs ?? 5_000;
  const user = options.user ?? `${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}`;
  const log = options.log;
  const filesOfSession: SessionFilesOf =
    options.files ??
    (() => {
      throw new LaunchError('this adapter was made without a place for session files');
    });
  const checks = options.checks ?? OPEN_CHECKS;
  // The Engine puts each container in its own cgroup of the host's hierarchy; a stop ends all of it.
  const containment: Containment = existsSync('/sys/fs/cgroup/cgroup.controllers') ? 'cgroup-v2' : 'cgroup-v1';
  let closed = false;
  // Every sleep here, cut short by close().
  const sleeps = createSleeps();
  const delay = sleeps.delay;

  /** The log pump of each session whose output this process is copying, by session id. */
  const pumps = new Map<string, LogPump>();
  // The Engine's event stream wakes it (followEvents), besides its safety poll.
  const ends = new EndWatch<DockerProcessHandle, DockerEndedState>({
    pollIntervalMs,
    inspect: (sessionId, h) => inspectDocker(sessionId, h) as Promise<typeof RUNNING | DockerEndedState>,
    // The Engine did not answer: not a fact about the container. The next event or poll looks again.
    onInspectError: (sessionId, err) => log?.warn({ session: sessionId, err: (err as Error).message }, 'docker: cannot inspect the container'),
    onUntrack: (sessionId) => {
      pumps.get(sessionId)?.stop();
      pumps.delete(sessionId);
    },
  });
  let events: Readable | null = null;
  /** A request for the event stream is under way (at most one at a time). */
  let connecting = false;
  /** Failed attempts in a row: the wait before the next one doubles, and only the first is logged. */
  let eventFailures = 0;

  /**
   * The Engine's view of the session's container, or null when it is gone, or is not the
   * session's: a handle from a damaged or forged record must not make the adapter stop, signal,
   * write to or remove another container of the same engine.
   */
  const containerInfo = async (ref: { container_id: string; session_id: string }): Promise<Docker.ContainerInspectInfo | null> => {
    let info: Docker.ContainerInspectInfo;
    try {
      info = await engine.getContainer(ref.container_id).inspect();
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw err;
    }
    return info.Config?.Labels?.[SESSION_LABEL] === ref.session_id ? info : null;
  };

  /** The Engine's state of the session's container, or null (see containerInfo). */
  const engineState = async (ref: { container_id: string; session_id: string }): Promise<EngineState | null> => {
    const info = await containerInfo(ref);
    return info ? (info.State as EngineState) : null;
  };

  /** Waits (bounded) until the session's output has reached its files. */
  const drain = async (sessionId: string): Promise<void> => {
    const pump = pumps.get(sessionId);
    if (!pump) return;
    await Promise.race([pump.done, delay(LOG_DRAIN_MS)]);
    const failure = pump.error();
    if (failure) log?.warn({ session: sessionId, err: failure.message }, 'docker: copying the container output to the log files failed; the logs miss its end');
  };

  const inspectDocker = async (sessionId: string | null, h: DockerProcessHandle): Promise<ProcessState> => {
    const state = await engineState(h);
    if (state === null) return ENDED_UNKNOWN;
    if (isLive(state)) return RUNNING;
    if (sessionId !== null) await drain(sessionId);
    return endedFromState(state);
  };

  /**
   * Copies a container's output into its files for as long as it runs, and registers that as the
   * session's pump at once (so it runs once). `attached` is the launch's attach stream: exact, and
   * complete when the container ends. Without one (adopted after a restart), or when it breaks
   * while the container still runs, the Engine's log is followed from what the files already hold
   * (docker-logs.ts). The Engine ends a follow when the container stops, at times before the last
   * output without a newline is in its log, so after a follow one last plain read of the log
   * appends what is still missing.
   */
  const startPump = (sessionId: string, h: DockerProcessHandle, attached: LogPump | null): void => {
    let current: LogPump | null = attached;
    let stopped = false;
    let failure: Error | null = null;
    const files = filesOf(h);
    const container = engine.getContainer(h.container_id);
    /** Appends what the Engine's log holds beyond the files, once. */
    const pumpFromLog = async (follow: boolean): Promise<void> => {
      const skip = await writtenBytes(files);
      const source = follow
        ? ((await container.logs({ follow: true, stdout: true, stderr: true })) as unknown as Readable)
        : Readable.from([(await container.logs({ follow: false, stdout: true, stderr: true })) as Buffer]);
      if (stopped) {
        source.destroy();
        return;
      }
      const handles = await openLogFiles(files).catch((err: unknown) => {
        source.destroy();
        throw err;
      });
      current = pumpFrames(source, handles, skip);
      if (stopped) current.stop();
      await current.done;
      const error = current.error();
      if (error) throw error;
    };
    const done = (async () => {
      if (current) {
        await current.done;
        const error = current.error();
        if (error) throw error;
      }
      let followed = false;
      while (!stopped && !closed) {
        const state = await engineState(h);
        if (state === null) return;
        if (!isLive(state)) {
          // After the attach stream the files are complete; after a follow, the log may hold more.
          if (followed || current === null) await pumpFromLog(false);
          return;
        }
        if (followed) await delay(EVENTS_RETRY_MS); // a follow that broke while it runs: not in a tight loop
        followed = true;
        await pumpFromLog(true);
      }
    })().catch((err: unknown) => {
      failure = err as Error;
    });
    pumps.set(sessionId, {
      done,
      error: () => failure,
      stop: () => {
        stopped = true;
        current?.stop();
      },
    });
  };

  /** Follows the Engine's event stream (die, oom of this service's containers) while anyone watches. */
  const followEvents = (): void => {
    if (closed || events !== null || connecting || !ends.listening) return;
    connecting = true;
    const filters = { type: ['container' as const], event: ['die', 'oom'], label: [SESSION_LABEL] };
    engine.getEvents({ filters }).then(
      (stream) => {
        connecting = false;
        if (eventFailures > 0) log?.info({ failures: eventFailures }, 'docker: following the engine events again');
        eventFailures = 0;
        const readable = stream as unknown as Readable;
        if (closed || !ends.listening) {
          readable.destroy();
          return;
        }
        events = readable;
        let text = '';
        readable.setEncoding('utf8');
        readable.on('data', (chunk: string) => {
          text += chunk;
          for (let newline = text.indexOf('\n'); newline >= 0; newline = text.indexOf('\n')) {
            const line = text.slice(0, newline);
            text = text.slice(newline + 1);
            try {
              const event = JSON.parse(line) as { Actor?: { Attributes?: Record<string, string> } };
              const sessionId = event.Actor?.Attributes?.[SESSION_LABEL];
              if (sessionId !== undefined) ends.check(sessionId);
            } catch {
              // Not an event line (the Engine sends only JSON lines); the poll covers anything missed.
            }
          }
        });
        const reconnect = (): void => {
          if (events !== readable) return;
          events = null;
          // Ends while it was away are found by one look at everything, then the stream again.
          if (closed) return;
          for (const [id] of ends.entries()) ends.check(id);
          void delay(EVENTS_RETRY_MS).then(followEvents);
        };
        readable.on('error', reconnect);
        readable.on('close', reconnect);
        readable.on('end', reconnect);
      },
      (err: unknown) => {
        connecting = false;
        if (eventFailures === 0) log?.warn({ err: (err as Error).message }, 'docker: cannot follow the engine events; retrying (the safety poll still finds ends)');
        eventFailures += 1;
        void delay(Math.min(EVENTS_RETRY_MS * 2 ** (eventFailures - 1), EVENTS_RETRY_MAX_MS)).then(followEvents);
      },
    );
  };

  /** Polls until the container has ended or `ms` passed; the last state seen (null: gone). */
  const waitEnded = async (h: DockerProcessHandle, ms: number): Promise<EngineState | null> => {
    const deadline = performance.now() + ms;
    for (;;) {
      const state = await engineState(h);
      const left = deadline - performance.now();
      if (state === null || !isLive(state) || left <= 0 || closed) return state;
      await delay(Math.min(TERMINATE_POLL_MS, left));
    }
  };

  /**
   * Writes `bytes` to the container's stdin through an attach of stdin alone, then ends that
   * attach; the Engine closes the connection once it has copied everything into the pipe. The
   * price against the local runtime: when the pipe stays full the write is abandoned after
   * INPUT_MS as `busy`, and part of it may have reached the pipe by then (the Engine does not say
   * how much).
   */
  const writeStdin = async (containerId: string, bytes: Buffer): Promise<WriteOutcome> => {
    let socket: Duplex;
    try {
      socket = (await engine.getContainer(containerId).attach({ stream: true, stdin: true, stdout: false, stderr: false, hijack: true })) as unknown as Duplex;
    } catch (err) {
      if (statusOf(err) === 404 || statusOf(err) === 409) return 'ended';
      throw err;
    }
    return new Promise<WriteOutcome>((resolve) => {
      let settled = false;
      const settle = (outcome: WriteOutcome): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        resolve(outcome);
      };
      const timer = setTimeout(() => settle('busy'), INPUT_MS);
      socket.on('error', () => settle('ended'));
      socket.on('close', () => settle('written'));
      socket.on('end', () => settle('written'));
      // Nothing comes back on a stdin-only attach; reading lets the end be seen.
      socket.resume();
      socket.end(bytes);
    });
  };

  /** Sends `signal` to the container (its pid 1, docker-init, passes it on). False when it is not running. */
  const kill = async (containerId: string, signal: string): Promise<boolean> => {
    try {
      await engine.getContainer(containerId).kill({ signal });
      return true;
    } catch (err) {
      // 404: gone; 409: not running.
      if (statusOf(err) === 404 || statusOf(err) === 409) return false;
      throw err;
    }
  };

  const handleFor = (containerId: string, sessionId: string, pid: number | null, files: LogFiles & { stateDir: string }): DockerProcessHandle => ({
    pid,
    runtime: 'docker',
    container_id: containerId,
    session_id: sessionId,
    stdout_path: files.stdoutPath,
    stderr_path: files.stderrPath,
    state_dir: files.stateDir,
  });

  /** A handle for an existing container, or null (and the container removed) when it never started. */
  const adopt = async (containerId: string, sessionId: string, files: LogFiles & { stateDir: string }): Promise<DockerProcessHandle | null> => {
    const state = await engineState({ container_id: containerId, session_id: sessionId });
    if (state === null) return null;
    if (state.Status === 'created') {
      // Made, never started: the service died between create and start. Nothing ran.
      await engine.getContainer(containerId).remove({ force: true }).catch(() => undefined);
      return null;
    }
    return handleFor(containerId, sessionId, isLive(state) && isInt(state.Pid) && state.Pid > 0 ? state.Pid : null, files);
  };

  return {
    prepare(request: PrepareRequest): Promise<Prepared> {
      return prepareOnHost(request, checks, 'container');
    },

    async launch(spec: LaunchSpec): Promise<ProcessHandle> {
      const where = filesOfSession(spec.sessionId);
      const wanted = spec.container ?? {};
      let cwdIsDir: boolean;
      try {
        cwdIsDir = (await stat(spec.cwd)).isDirectory();
      } catch (err) {
        throw new LaunchError(`working directory does not exist: ${spec.cwd}`, { cause: err });
      }
      if (!cwdIsDir) throw new LaunchError(`working directory is not a directory: ${spec.cwd}`);
      try {
        await mkdir(where.stateDir, { recursive: true });
      } catch (err) {
        throw new LaunchError(`cannot create state folder ${where.stateDir}: ${(err as Error).message}`, { cause: err });
      }
      const image = wanted.image ?? options.defaultImage;
      const mounts: Docker.MountSettings[] = [
        { Type: 'bind', Source: spec.cwd, Target: spec.cwd, ReadOnly: wanted.cwdWritable !== true },
        ...(wanted.mounts ?? []).map((m): Docker.MountSettings => ({ Type: 'bind', Source: m.path, Target: m.path, ReadOnly: m.readOnly })),
      ];
      let container: Docker.Container;
      try {
        container = await engine.createContainer({
          ...(CONTAINER_NAME.test(`sessiond-${spec.sessionId}`) ? { name: `sessiond-${spec.sessionId}` } : {}),
          Image: image,
          Entrypoint: [spec.command],
          Cmd: spec.args,
          Env: Object.entries(spec.env).map(([key, value]) => `${key}=${value}`),
          WorkingDir: spec.cwd,
          User: user,
          Labels: { [SESSION_LABEL]: spec.sessionId },
          // With input, stdin is a pipe the Engine holds open (StdinOnce false: an attach that
          // ends does not close it), so writes from a restarted service reach the same stdin.
          AttachStdin: spec.input === true,
          AttachStdout: true,
          AttachStderr: true,
          OpenStdin: spec.input === true,
          StdinOnce: false,
          Tty: false,
          HostConfig: {
            ...resources({ ...options.limits, ...wanted.limits }),
            Mounts: mounts,
            NetworkMode: wanted.network ?? options.network ?? 'none',
            Init: true,
            CapDrop: ['ALL'],
            SecurityOpt: ['no-new-privileges'],
            // The copy the output is resumed from after a service restart (docker-logs.ts).
            LogConfig: { Type: 'json-file', Config: {} },
            RestartPolicy: { Name: 'no' },
          },
        });
      } catch (err) {
        const status = statusOf(err);
        const message = (err as Error).message;
        if (status === 404) throw new LaunchError(`image not found: ${image}`, { cause: err });
        if (status === 409) throw new LaunchError(`a container for session ${spec.sessionId} exists already`, { cause: err });
        throw new LaunchError(`the docker engine did not create the container: ${message}`, { cause: err });
      }
      const files = { stdoutPath: where.stdout, stderrPath: where.stderr, stateDir: where.stateDir };
      const discard = async (): Promise<void> => {
        pumps.get(spec.sessionId)?.stop();
        pumps.delete(spec.sessionId);
        await container.remove({ force: true }).catch(() => undefined);
      };
      try {
        await writeAtomic(join(where.stateDir, CONTAINER_FILE), JSON.stringify({ container_id: container.id, session_id: spec.sessionId, ...files }));
        const found = await findCommandIn(container, spec.command, spec.cwd, spec.env.PATH);
        if (!found.ok && found.problem === 'not_found') throw new LaunchError(`command not found: ${spec.command} (${found.detail})`);
        if (!found.ok) throw new LaunchError(`command not executable: ${spec.command} (${found.detail})`);
        // Attached before it starts, so not one byte of its output is missed.
        const handles = await openLogFiles(files);
        let stream: Readable;
        try {
          stream = (await container.attach({ stream: true, stdout: true, stderr: true })) as unknown as Readable;
        } catch (err) {
          await Promise.allSettled([handles.stdout.close(), handles.stderr.close()]);
          throw err;
        }
        startPump(spec.sessionId, handleFor(container.id, spec.sessionId, null, files), pumpFrames(stream, handles));
        await container.start();
        if (spec.input === true && spec.initialInput) {
          // stdin is a pipe the process blocks on until these bytes come, so they come first.
          const outcome = await writeStdin(container.id, Buffer.from(spec.initialInput));
          // `ended`: the command ended at once, which its end tells; not a failed launch.
          if (outcome === 'busy') log?.warn({ session: spec.sessionId }, 'docker: the first input was not read within 5 s; part of it may be missing');
        }
        const state = await engineState({ container_id: container.id, session_id: spec.sessionId });
        return handleFor(container.id, spec.sessionId, state && isInt(state.Pid) && state.Pid > 0 ? state.Pid : null, files);
      } catch (err) {
        await discard();
        if (err instanceof LaunchError) throw err;
        throw new LaunchError(`the docker engine could not start the container: ${(err as Error).message}`, { cause: err });
      }
    },

    async inspect(handle: ProcessHandle): Promise<ProcessState> {
      const h = asDocker(handle);
      return h ? inspectDocker(null, h) : ENDED_UNKNOWN;
    },

    async terminate(handle: ProcessHandle, graceMs: number): Promise<ProcessState> {
      const h = asDocker(handle);
      if (!h) return ENDED_UNKNOWN;
      const sessionId = [...ends.entries()].find(([, tracked]) => tracked.container_id === h.container_id)?.[0] ?? null;
      const finish = async (state: EngineState | null): Promise<ProcessState> => {
        if (state === null) return ENDED_UNKNOWN;
        if (isLive(state)) return RUNNING;
        if (sessionId !== null) await drain(sessionId);
        return endedFromState(state);
      };
      const before = await engineState(h);
      if (before === null || !isLive(before)) return finish(before);
      // The Engine's own stop takes whole seconds; this keeps the grace to the millisecond.
      await kill(h.container_id, 'SIGTERM');
      const afterTerm = await waitEnded(h, graceMs);
      if (afterTerm === null || !isLive(afterTerm) || closed) return finish(afterTerm);
      await kill(h.container_id, 'SIGKILL');
      return finish(await waitEnded(h, AFTER_KILL_WAIT_MS));
    },

    watch(listener: (sessionId: string, state: DockerEndedState) => void): () => void {
      const stop = ends.watch(listener);
      followEvents();
      return () => {
        stop();
        if (ends.listening) return;
        const stream = events;
        events = null;
        stream?.destroy();
      };
    },

    track(sessionId: string, handle: ProcessHandle): void {
      const h = asDocker(handle);
      if (!h) {
        ends.untrack(sessionId);
        ends.tell(sessionId, ENDED_UNKNOWN);
        return;
      }
      ends.track(sessionId, h);
      // Adopted after a restart: its output since the service went down is in the Engine's log.
      if (!pumps.has(sessionId)) startPump(sessionId, h, null);
      ends.check(sessionId);
    },

    untrack(sessionId: string): void {
      ends.untrack(sessionId);
    },

    async find(sessionId: string): Promise<DockerProcessHandle | null> {
      const where = filesOfSession(sessionId);
      const files = { stdoutPath: where.stdout, stderrPath: where.stderr, stateDir: where.stateDir };
      const noted = await readContainerFile(where.stateDir);
      if (noted?.session_id === sessionId && typeof noted.container_id === 'string') return adopt(noted.container_id, sessionId, files);
      // Made but not noted: the container's label names the session.
      const found = await engine.listContainers({ all: true, filters: { label: [`${SESSION_LABEL}=${sessionId}`] } });
      const first = found[0];
      return first ? adopt(first.Id, sessionId, files) : null;
    },

    // Removes the container, stopping it first if it still runs (force).
    async release(handle: ProcessHandle): Promise<void> {
      const h = asDocker(handle);
      if (!h) return;
      for (const [sessionId, tracked] of ends.entries()) if (tracked.container_id === h.container_id) ends.untrack(sessionId);
      if ((await containerInfo(h)) === null) return;
      try {
        await engine.getContainer(h.container_id).remove({ force: true });
      } catch (err) {
        if (statusOf(err) !== 404) throw err;
      }
    },

    containment(): Containment {
      return containment;
    },

    async close(): Promise<void> {
      closed = true;
      const stream = events;
      events = null;
      stream?.destroy();
      const copying = [...pumps.values()];
      ends.close();
      for (const pump of copying) pump.stop();
      await Promise.allSettled(copying.map((pump) => pump.done));
      pumps.clear();
      sleeps.cutAll();
    },

    async writeInput(handle: ProcessHandle, bytes: Buffer): Promise<WriteOutcome> {
      const h = asDocker(handle);
      if (!h) return 'ended';
      const info = await containerInfo(h);
      if (info === null || !isLive(info.State as EngineState)) return 'ended';
      if (info.Config.OpenStdin !== true) return 'not_interactive';
      return writeStdin(h.container_id, bytes);
    },

    async signal(handle: ProcessHandle, signal: 'SIGINT' | 'SIGTERM'): Promise<boolean> {
      const h = asDocker(handle);
      if (!h) return false;
      const state = await engineState(h);
      if (state === null || !isLive(state)) return false;
      return kill(h.container_id, signal);
    },
  };
}
