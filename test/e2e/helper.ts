// End-to-end set-up: the real server (file store, local process adapter) listening on a free
// port, spoken to over real HTTP with fetch. Teardown force-stops every live session, closes the
// server and fails the test if any process is still running in the test's workspace.
import { readFile, rm } from 'node:fs/promises';
import type { Test } from 'tap';
import { TERMINAL_STATUSES } from '../../schemas/session.js';
import { buildApp } from '../../src/app.js';
import type { Config } from '../../src/config.js';
import { assertProblem, authHeader, eventually, testConfig } from '../helper.js';
import { reapProcessesIn } from '../process-leaks.js';

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

export { isRunning, processesIn } from '../process-leaks.js';

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
    const left = await reapProcessesIn(root, 15_000);
    if (left.length > 0) {
      // Throwing here skips the teardowns that remove the temporary folders: remove them now.
      await Promise.all([root, config.dataDir].map((dir) => rm(dir, { recursive: true, force: true })));
      throw new Error(`processes left behind in ${root}:\n${left.join('\n')}`);
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
