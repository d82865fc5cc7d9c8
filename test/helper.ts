// Shared test set-up: an app on the fakes (memory store, scripted processes) closed in teardown,
// a config for tests, and temporary workspace folders.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { buildApp } from '../src/app.js';
import { loadConfig, type Config } from '../src/config.js';
import type { ProcessAdapter } from '../src/process/adapter.js';
import type { SessionStore } from '../src/store/store.js';
import { createFakeProcessAdapter, type FakeProcessAdapter } from './fakes/fake-processes.js';
import { createMemoryStore, type MemoryStore } from './fakes/memory-store.js';
import { MemoryJournal } from './fakes/memory-journal.js';
import { createMemoryAgentIndex } from './fakes/memory-agent-index.js';

export async function tempDir(t: Test, prefix = 'sessiond-test-'): Promise<string> {
  const dir = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), prefix)));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Tokens every test config carries: the API always needs one (see test/security/). */
export const TEST_TOKENS = {
  write: 'test-write-token-0123456789abcdef',
  read: 'test-read-token-0123456789abcdef',
} as const;

/** The Authorization header for one of the test tokens. */
export const authHeader = (scope: keyof typeof TEST_TOKENS = 'write') => ({ authorization: `Bearer ${TEST_TOKENS[scope]}` });

/** A config as the service would read it, with a temporary workspace root and data dir. */
export async function testConfig(t: Test, env: Record<string, string> = {}): Promise<Config> {
  const root = await tempDir(t, 'sessiond-root-');
  const data = await tempDir(t, 'sessiond-data-');
  return loadConfig(
    {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      SESSIOND_DATA_DIR: data,
      SESSIOND_WORKSPACE_ROOTS: root,
      SESSIOND_ALLOWED_COMMANDS: 'claude,bash,sleep,true',
      SESSIOND_TOKENS: `${TEST_TOKENS.write}:write,${TEST_TOKENS.read}:read`,
      ...env,
    },
    root,
  );
}

export interface FakeApp {
  app: Awaited<ReturnType<typeof buildApp>>;
  store: MemoryStore;
  processes: FakeProcessAdapter;
  journal: MemoryJournal;
  config: Config;
  /** The workspace root: an existing directory sessions may run in. */
  root: string;
}

/** The app on the fakes: no real process, no file under the data dir. */
export async function buildFakeApp(
  t: Test,
  options: { env?: Record<string, string>; store?: SessionStore; processes?: ProcessAdapter; clock?: () => Date } = {},
): Promise<FakeApp> {
  const config = await testConfig(t, options.env);
  const store = createMemoryStore();
  const processes = createFakeProcessAdapter({
    onOutput: (id, stream, data) => store.appendLog(id, stream, data),
    checks: { allowedCommands: config.allowedCommands, path: config.childEnv.PATH, workspaceRoots: config.workspaceRoots },
  });
  const journal = new MemoryJournal();
  const app = await buildApp({
    config,
    store: options.store ?? store,
    processes: options.processes ?? processes,
    journal,
    // The memory store has no folders: agent indexes are kept in memory too.
    agentIndex: createMemoryAgentIndex(),
    clock: options.clock,
    logger: false,
    forceCloseConnections: true,
  });
  t.teardown(() => app.close());
  withDefaultToken(app);
  const root = config.workspaceRoots[0] as string;
  return { app, store, processes, journal, config, root };
}

/**
 * Makes app.inject send the write token unless the test sets `authorization` itself (set it to
 * undefined to send none), so route tests read as the contract does and auth is tested apart.
 */
function withDefaultToken(app: { inject: (...args: never[]) => unknown }): void {
  const inject = app.inject.bind(app) as (opts: Record<string, unknown>) => unknown;
  (app as unknown as { inject: (opts: Record<string, unknown>) => unknown }).inject = (opts) => {
    const headers = { ...((opts.headers as Record<string, string | undefined>) ?? {}) };
    if (!('authorization' in headers)) Object.assign(headers, authHeader('write'));
    if (headers.authorization === undefined) delete headers.authorization;
    return inject({ ...opts, headers });
  };
}

/** Polls `check` until it returns a value other than undefined; fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs = 10000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The response is problem+json with this status and code, shaped as the contract says. */
export function assertProblem(t: Test, res: { statusCode: number; headers: Record<string, unknown>; json: () => Record<string, unknown> }, status: number, code: string) {
  t.equal(res.statusCode, status, `status ${status}`);
  t.match(String(res.headers['content-type']), /^application\/problem\+json/, 'problem+json');
  const body = res.json();
  t.equal(body.code, code, `code ${code}`);
  t.equal(body.status, status, 'status in body');
  t.equal(body.type, 'about:blank');
  t.type(body.title, 'string');
  t.type(body.detail, 'string');
}
