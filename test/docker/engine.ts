// A Docker adapter on a real engine for the Docker runtime's tests: the engine named by
// SESSIOND_TEST_DOCKER_HOST (.ci/docker-up starts one and prints it), the image
// SESSIOND_TEST_DOCKER_IMAGE (a busybox rootfs, default sessiond-busybox:test). Without the
// variable the tests are skipped with the reason printed; with it, an engine that does not answer
// fails them (CI must run them).
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import type { ProcessHandle, SessionFilesOf } from '../../src/process/adapter.js';
import {
  createDockerProcessAdapter,
  engineFromHost,
  type DockerLaunchSpec,
  type DockerProcessAdapter,
  type DockerProcessAdapterOptions,
  type DockerProcessHandle,
} from '../../src/process/docker.js';
import type { DockerEndedState } from '../../src/process/docker-state.js';

export const DOCKER_HOST = process.env.SESSIOND_TEST_DOCKER_HOST ?? '';
export const IMAGE = process.env.SESSIOND_TEST_DOCKER_IMAGE ?? 'sessiond-busybox:test';
/** The tap skip reason when there is no engine to test against, else false. */
export const NO_ENGINE: string | false =
  DOCKER_HOST === '' ? 'SESSIOND_TEST_DOCKER_HOST is not set: no Docker engine to test against (.ci/docker-up starts one and prints the value)' : false;
/** The PATH inside the busybox image. */
export const CONTAINER_PATH = '/bin';

export interface Ends {
  /** The first end heard of for `sessionId` (the watch may tell one end more than once). */
  of(sessionId: string): Promise<DockerEndedState>;
}

/** Listens to `adapter.watch` and keeps every end by session. */
export function listen(t: Test, adapter: DockerProcessAdapter): Ends {
  const seen = new Map<string, DockerEndedState>();
  const waiting = new Map<string, Array<(state: DockerEndedState) => void>>();
  const stop = adapter.watch((sessionId, state) => {
    if (seen.has(sessionId)) return;
    seen.set(sessionId, state);
    for (const resolve of waiting.get(sessionId) ?? []) resolve(state);
    waiting.delete(sessionId);
  });
  t.teardown(stop);
  return {
    of(sessionId: string): Promise<DockerEndedState> {
      const known = seen.get(sessionId);
      if (known) return Promise.resolve(known);
      return new Promise((resolve) => waiting.set(sessionId, [...(waiting.get(sessionId) ?? []), resolve]));
    },
  };
}

/** A launch spec, and where its session's files are (the adapter finds them by the session's id). */
export type DockerTestSpec = DockerLaunchSpec & { stdoutPath: string; stderrPath: string; stateDir: string };

export interface DockerFixture {
  adapter: DockerProcessAdapter;
  /** A second client of the same engine, for looking at containers from outside. */
  engine: ReturnType<typeof engineFromHost>;
  dir: string;
  cwd: string;
  /** Where each session's files are (given to every adapter made on this fixture). */
  files: SessionFilesOf;
  spec(command: string, args: string[], extra?: Partial<DockerLaunchSpec>): DockerTestSpec;
  /** Launches, tracks, and registers the container for removal in teardown. */
  launch(command: string, args: string[], extra?: Partial<DockerLaunchSpec>): Promise<{ spec: DockerTestSpec; handle: DockerProcessHandle }>;
  /** Closes the current adapter and makes a new one on the same engine (the service restarted). */
  restart(): Promise<DockerProcessAdapter>;
  /** Removes this handle's container in teardown. */
  remember(handle: ProcessHandle): void;
}

let run = 0;

export async function dockerFixture(t: Test, options: Partial<DockerProcessAdapterOptions> = {}): Promise<DockerFixture> {
  const dir = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'sessiond-docker-')));
  const files: SessionFilesOf = (id) => ({ stdout: path.join(dir, `${id}.stdout.log`), stderr: path.join(dir, `${id}.stderr.log`), stateDir: path.join(dir, `${id}.state`) });
  const make = (): DockerProcessAdapter => createDockerProcessAdapter({ host: DOCKER_HOST, defaultImage: IMAGE, pollIntervalMs: 500, files, ...options });
  const adapters = [make()];
  const engine = engineFromHost(DOCKER_HOST);
  const cwd = path.join(dir, 'cwd');
  await fs.mkdir(cwd);
  const handles: ProcessHandle[] = [];
  t.teardown(async () => {
    const last = adapters.at(-1)!;
    for (const handle of handles) await last.release(handle);
    for (const adapter of adapters) await adapter.close();
    await fs.rm(dir, { recursive: true, force: true });
  });
  run += 1;
  const prefix = `dt${process.pid}-${run}-${Date.now().toString(36)}`;
  let n = 0;
  const spec = (command: string, args: string[], extra: Partial<DockerLaunchSpec> = {}): DockerTestSpec => {
    n += 1;
    const launch: DockerLaunchSpec = { sessionId: `${prefix}-s${n}`, command, args, cwd, env: { PATH: CONTAINER_PATH }, ...extra };
    const where = files(launch.sessionId);
    return { ...launch, stdoutPath: where.stdout, stderrPath: where.stderr, stateDir: where.stateDir };
  };
  const fixture: DockerFixture = {
    get adapter() {
      return adapters.at(-1)!;
    },
    engine,
    dir,
    cwd,
    files,
    spec,
    async launch(command, args, extra) {
      const s = spec(command, args, extra);
      const handle = (await fixture.adapter.launch(s)) as DockerProcessHandle;
      handles.push(handle);
      fixture.adapter.track(s.sessionId, handle);
      return { spec: s, handle };
    },
    async restart() {
      await fixture.adapter.close();
      const adapter = make();
      adapters.push(adapter);
      return adapter;
    },
    remember(handle) {
      handles.push(handle);
    },
  };
  return fixture;
}

/** The file's bytes, or an empty buffer while it does not exist. */
export async function bytesOf(file: string): Promise<Buffer> {
  return fs.readFile(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return Buffer.alloc(0);
    throw err;
  });
}

/** Resolves once `file` contains `text`. */
export async function untilContains(file: string, text: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await bytesOf(file)).includes(text)) {
    if (Date.now() > deadline) throw new Error(`${file} did not come to contain ${JSON.stringify(text)} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
