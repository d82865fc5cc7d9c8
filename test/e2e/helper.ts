// End-to-end set-up: the real server (file store, local process adapter) listening on a free
// port, spoken to over real HTTP with fetch. Teardown force-stops every live session, closes the
// server and fails the test if any process is still running in the test's workspace.
import { readdir, readFile, readlink, rm } from 'node:fs/promises';
import type { Test } from 'tap';
import { TERMINAL_STATUSES } from '../../schemas/session.js';
import { buildApp } from '../../src/app.js';
import type { Config } from '../../src/config.js';
import { assertProblem, authHeader, eventually, testConfig } from '../helper.js';

export type Json = Record<string, any>;

/** Sent with every request unless the caller sets its own: testConfig configures this write token. */
const AUTH = authHeader('write');

export interface Reply {
  status: number;
  headers: Headers;
  /** The body's exact bytes. */
  bytes: Buffer;
  text: string;
  json(): Json;
}

export interface Server {
  url: string;
  app: Awaited<ReturnType<typeof buildApp>>;
  config: Config;
  /** The workspace root: an existing directory sessions may run in. */
  root: string;
  /** Sends a request; a plain object body is sent as JSON. */
  request(method: string, path: string, options?: { body?: unknown; headers?: Record<string, string> }): Promise<Reply>;
  /** POST /v1/sessions with `name`, `working_directory` = root and `command` bash as defaults. */
  start(body: Json): Promise<Reply>;
  /** Starts a `bash -c script` session and returns it; fails unless it is 201. */
  run(script: string, body?: Json): Promise<Json>;
  /** POST /wait until the session has ended; fails if it has not after a generous timeout. */
  waitEnded(id: string): Promise<Json>;
  /** Closes the server (its sessions keep running). Safe to call twice. */
  close(): Promise<void>;
  readonly closed: boolean;
}

/** A process that is still running: a zombie (reaped by nobody, say a container's pid 1) has stopped running. */
export async function isRunning(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (stat === null) return false;
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z';
}

/** Pids of the running processes whose working directory is inside `dir`. */
export async function processesIn(dir: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => null);
    if (cwd !== null && (cwd === dir || cwd.startsWith(`${dir}/`)) && (await isRunning(pid))) found.push(pid);
  }
  return found;
}

/** Reads a file a session writes, once it is complete (ends with a newline). */
export async function readWhenWritten(file: string, timeoutMs = 20_000): Promise<string> {
  return eventually(async () => {
    const text = await readFile(file, 'utf8').catch(() => '');
    return text.endsWith('\n') ? text : undefined;
  }, timeoutMs);
}

/** The test helper's assertProblem, for a fetch reply. */
export function assertProblemReply(t: Test, reply: Reply, status: number, code: string): void {
  assertProblem(
    t,
    { statusCode: reply.status, headers: Object.fromEntries(reply.headers), json: () => reply.json() },
    status,
    code,
  );
}

/**
 * The real app on `config` (default: a fresh testConfig with `env`), listening on 127.0.0.1 and a
 * free port. Pass the config of an earlier server to start again on the same data dir.
 */
export async function startServer(t: Test, options: { env?: Record<string, string>; config?: Config } = {}): Promise<Server> {
  const config = options.config ?? (await testConfig(t, options.env));
  const root = config.workspaceRoots[0] as string;

  // Registered before the server's own teardown, so it runs after it (tap runs teardowns last-in first-out).
  t.teardown(async () => {
    let left: number[] = [];
    try {
      // Keepers take a moment to write exit.json and go after their session ended.
      left = await eventually(async () => {
        const pids = await processesIn(root);
        return pids.length === 0 ? pids : undefined;
      }, 15_000);
    } catch {
      left = await processesIn(root);
    }
    if (left.length > 0) {
      const names = await Promise.all(
        left.map(async (pid) => `${pid} ${(await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ')}`),
      );
      for (const pid of left) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone: nothing left to clean up.
        }
      }
      // Throwing here skips the teardowns that remove the temporary folders: remove them now.
      await Promise.all([root, config.dataDir].map((dir) => rm(dir, { recursive: true, force: true })));
      throw new Error(`processes left behind in ${root}:\n${names.join('\n')}`);
    }
  });

  const app = await buildApp({ config, logger: false, forceCloseConnections: true });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('the server has no TCP address');
  const url = `http://127.0.0.1:${address.port}`;
  let closed = false;

  const request: Server['request'] = async (method, path, { body, headers = {} } = {}) => {
    const init: RequestInit = { method, headers: { ...AUTH, ...headers } };
    if (body !== undefined) {
      init.body = typeof body === "string" ? body : JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${url}${path}`, init);
    const bytes = Buffer.from(await res.arrayBuffer());
    const text = bytes.toString('utf8');
    return { status: res.status, headers: res.headers, bytes, text, json: () => JSON.parse(text) as Json };
  };

  const server: Server = {
    url,
    app,
    config,
    root,
    request,
    start: (body) => request('POST', '/v1/sessions', { body: { name: 'e2e', working_directory: root, command: 'bash', ...body } }),
    async run(script, body = {}) {
      const res = await server.start({ args: ['-c', script], ...body });
      if (res.status !== 201) throw new Error(`start answered ${res.status}: ${res.text}`);
      return res.json();
    },
    async waitEnded(id) {
      const res = await request('POST', `/v1/sessions/${id}/wait`, { body: { timeout_ms: 30_000 } });
      const session = res.json();
      if (res.status !== 200 || !(TERMINAL_STATUSES as readonly string[]).includes(session.status)) throw new Error(`session ${id} has not ended: ${res.text}`);
      return session;
    },
    async close() {
      if (closed) return;
      closed = true;
      await app.close();
    },
    get closed() {
      return closed;
    },
  };

  t.teardown(async () => {
    if (closed) return;
    // Whatever a test left running is stopped at once, through the API as a user would.
    const live = await request('GET', '/v1/sessions?status=starting&status=running&limit=500');
    for (const session of (live.json().items ?? []) as Json[]) {
      await request('POST', `/v1/sessions/${session.id}/stop`, { body: { grace_ms: 0 } });
    }
    await server.close();
  });

  return server;
}
