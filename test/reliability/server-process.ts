// Fault-test kit: the REAL service as a separate OS process (`node dist/src/server.js`), so a
// test can SIGKILL it, SIGTERM it, and start it again on the same data dir, as an operator or a
// crash would. Requests go over node:http without connection pooling (one connection per
// request), so a request in flight when the server dies fails alone and nothing is reused.
//
// Teardown of a deployment kills every server it spawned, then every session process found in
// the data dir (keeper.json and the records' handles, only when the start time still matches),
// their keepers and the strangers the test spawned, and fails the test if any process is still
// running in the workspace after that.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { SESSION_STATUSES, TERMINAL_STATUSES } from '../../schemas/session.js';
import { eventually, tempDir, TEST_TOKENS } from '../helper.js';
import { cmdline, isRunning, reapProcessesIn } from '../process-leaks.js';
import { emptyCgroupSync, hierarchyOf, isSessionCgroupDir, readHierarchies, removeCgroupSync } from '../../src/process/cgroup.js';
import { readProcStat } from '../../src/process/proc-stat.js';
import { SERVER_NODE_FLAGS } from '../../src/node-flags.js';

export type Json = Record<string, any>;

/** The compiled server entry, next to this compiled file's tree: dist/test/reliability -> dist/src. */
export const SERVER_ENTRY = fileURLToPath(new URL('../../src/server.js', import.meta.url));

export const STATUSES: readonly string[] = SESSION_STATUSES;
export const TERMINAL: readonly string[] = TERMINAL_STATUSES;

const AUTH = { authorization: `Bearer ${TEST_TOKENS.write}` };

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The body's exact bytes. */
  bytes: Buffer;
  text: string;
  json(): Json;
}

export interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
  /** Give up (reject) after this long; default 60 s. */
  timeoutMs?: number;
}

/** One HTTP request on its own connection; a plain object body is sent as JSON. */
export function httpRequest(baseUrl: string, method: string, urlPath: string, options: RequestOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...AUTH, ...options.headers };
    let payload: Buffer | undefined;
    if (options.body !== undefined) {
      payload = Buffer.from(typeof options.body === 'string' ? options.body : JSON.stringify(options.body));
      headers['content-type'] ??= 'application/json';
      headers['content-length'] = String(payload.length);
    }
    const req = http.request(`${baseUrl}${urlPath}`, { method, agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        clearTimeout(timer);
        const bytes = Buffer.concat(chunks);
        const text = bytes.toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes, text, json: () => JSON.parse(text) as Json });
      });
    });
    const timer = setTimeout(() => req.destroy(new Error(`${method} ${urlPath}: no answer within ${options.timeoutMs ?? 60_000} ms`)), options.timeoutMs ?? 60_000);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(payload);
  });
}

// ---------------------------------------------------------------------------------------------
// /proc

export { readProcStat as procStat } from '../../src/process/proc-stat.js';
export { cmdline, isRunning, processesIn } from '../process-leaks.js';

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

/** Reads a JSON file once it exists and parses (files written atomically appear whole). */
export async function readJsonWhenWritten(file: string, timeoutMs = 20_000): Promise<Json> {
  return eventually(async () => {
    const text = await readFile(file, 'utf8').catch(() => null);
    if (text === null) return undefined;
    try {
      return JSON.parse(text) as Json;
    } catch {
      return undefined;
    }
  }, timeoutMs);
}

// ---------------------------------------------------------------------------------------------
// One server process

export class ServerProcess {
  /** Every line the server printed on stdout (its pino log), in order. */
  readonly lines: string[] = [];
  stderr = '';
  url = '';
  port = 0;
  exit: Exit | null = null;
  readonly exited: Promise<Exit>;
  private pending = '';

  constructor(readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
    // Drained for the whole life of the process: a full pipe would block the server's logging.
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      this.pending += chunk;
      let newline: number;
      while ((newline = this.pending.indexOf('\n')) >= 0) {
        this.lines.push(this.pending.slice(0, newline));
        this.pending = this.pending.slice(newline + 1);
      }
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.stderr += chunk;
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get alive(): boolean {
    return this.exit === null;
  }

  /** The parsed log lines (the ones that are JSON). */
  logs(): Json[] {
    return this.lines.flatMap((line) => {
      try {
        return [JSON.parse(line) as Json];
      } catch {
        return [];
      }
    });
  }

  /** The end of what the server printed, for failure messages. */
  tail(n = 30): string {
    return [...this.lines.slice(-n), this.stderr.slice(-2000)].join('\n');
  }

  /** Resolves with the URL once the server logged "Server listening at ..."; rejects if it exits first. */
  listening(timeoutMs = 30_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const deadline = setTimeout(() => {
        clearInterval(poll);
        reject(new Error(`the server did not say where it listens within ${timeoutMs} ms:\n${this.tail()}`));
      }, timeoutMs);
      const poll = setInterval(() => {
        for (const entry of this.logs()) {
          const match = /Server listening at (http:\/\/127\.0\.0\.1:(\d+))/.exec(String(entry.msg ?? ''));
          if (match) {
            clearInterval(poll);
            clearTimeout(deadline);
            this.url = match[1] as string;
            this.port = Number(match[2]);
            resolve(this.url);
            return;
          }
        }
        if (!this.alive) {
          clearInterval(poll);
          clearTimeout(deadline);
          reject(new Error(`the server exited (${JSON.stringify(this.exit)}) before listening:\n${this.tail()}`));
        }
      }, 20);
    });
  }

  /** Waits for the process to exit; rejects after `timeoutMs` (the process is left as it is). */
  async waitExit(timeoutMs = 30_000): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.exited,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`the server (pid ${this.pid}) did not exit within ${timeoutMs} ms:\n${this.tail()}`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends `signal` and waits for the exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL', timeoutMs = 30_000): Promise<Exit> {
    if (this.alive) this.child.kill(signal);
    return this.waitExit(timeoutMs);
  }

  request(method: string, urlPath: string, options?: RequestOptions): Promise<Reply> {
    if (!this.url) return Promise.reject(new Error('the server is not listening'));
    return httpRequest(this.url, method, urlPath, options);
  }
}

// ---------------------------------------------------------------------------------------------
// A deployment: one data dir and workspace, served by one server process at a time

export interface Deployment {
  dataDir: string;
  /** The workspace root: sessions run here (and so do their keepers). */
  root: string;
  env: Record<string, string>;
  /** The current server process (the last one started). */
  readonly server: ServerProcess;
  /** Every server process started so far. */
  readonly servers: ServerProcess[];
  /** Starts a server process on the data dir and waits until it listens. */
  start(): Promise<ServerProcess>;
  /** Kills the current server with `signal` (default SIGKILL), waits for its exit, starts a new one. */
  restart(signal?: NodeJS.Signals): Promise<ServerProcess>;
  /** A request to the current server. */
  request(method: string, urlPath: string, options?: RequestOptions): Promise<Reply>;
  /** POST /v1/sessions with name, working_directory = root and command bash as defaults. */
  startSession(body: Json, headers?: Record<string, string>): Promise<Reply>;
  /** Starts `bash -c script`; fails unless the answer is 201. */
  run(script: string, body?: Json): Promise<Json>;
  /** POST /wait until the session ended; fails if it has not after a generous timeout. */
  waitEnded(id: string): Promise<Json>;
  sessionDir(id: string): string;
  /** Where the keeper keeps keeper.json and exit.json. */
  stateDir(id: string): string;
  /** Reads, changes and writes back a session.json (while no server runs, or it is overwritten). */
  editRecord(id: string, change: (record: Json) => Json | void): Promise<void>;
  /** Spawns a process the test owns (killed in teardown). */
  spawnStranger(command: string, args: string[]): Promise<{ pid: number; startTicks: number }>;
}

export async function deploy(t: Test, options: { env?: Record<string, string> } = {}): Promise<Deployment> {
  const root = await tempDir(t, 'sessiond-rel-root-');
  const dataDir = await tempDir(t, 'sessiond-rel-data-');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? root,
    SESSIOND_HOST: '127.0.0.1',
    SESSIOND_PORT: '0',
    SESSIOND_DATA_DIR: dataDir,
    SESSIOND_WORKSPACE_ROOTS: root,
    SESSIOND_ALLOWED_COMMANDS: 'bash',
    SESSIOND_DEFAULT_COMMAND: 'bash',
    SESSIOND_TOKENS: `${TEST_TOKENS.write}:write,${TEST_TOKENS.read}:read`,
    SESSIOND_STOP_GRACE_MS: '300',
    SESSIOND_LOG_LEVEL: 'info',
    ...options.env,
  };
  const servers: ServerProcess[] = [];
  const strangers: ChildProcess[] = [];

  // Registered after tempDir's removals, so it runs before them (teardowns run last-in first-out).
  t.teardown(async () => {
    if (!t.passing()) {
      // What the servers said is the first thing to read when a fault test fails.
      for (const server of servers) process.stderr.write(`--- server ${server.pid} (${JSON.stringify(server.exit)}):\n${server.tail(60)}\n`);
    }
    for (const server of servers) if (server.alive) await server.kill('SIGKILL').catch(() => undefined);
    await killSessions(dataDir);
    for (const child of strangers) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    const left = await reapProcessesIn(root, 10_000);
    if (left.length > 0) throw new Error(`processes left behind in ${root} that no session record names:\n${left.join('\n')}`);
  });

  const deployment: Deployment = {
    dataDir,
    root,
    env,
    servers,
    get server() {
      const last = servers[servers.length - 1];
      if (!last) throw new Error('no server started yet');
      return last;
    },
    async start() {
      // With the flags npm start passes: the tests run the server as it is shipped.
      const child = spawn(process.execPath, [...SERVER_NODE_FLAGS, SERVER_ENTRY], { env, cwd: dataDir, stdio: ['ignore', 'pipe', 'pipe'] });
      const server = new ServerProcess(child);
      servers.push(server);
      await server.listening();
      return server;
    },
    async restart(signal = 'SIGKILL') {
      await deployment.server.kill(signal);
      return deployment.start();
    },
    request: (method, urlPath, requestOptions) => deployment.server.request(method, urlPath, requestOptions),
    startSession: (body, headers) =>
      deployment.request('POST', '/v1/sessions', { body: { name: 'rel', working_directory: root, command: 'bash', ...body }, headers }),
    async run(script, body = {}) {
      const res = await deployment.startSession({ args: ['-c', script], ...body });
      if (res.status !== 201) throw new Error(`start answered ${res.status}: ${res.text}`);
      return res.json();
    },
    async waitEnded(id) {
      const res = await deployment.request('POST', `/v1/sessions/${id}/wait`, { body: { timeout_ms: 30_000 } });
      const session = res.status === 200 ? res.json() : null;
      if (!session || !TERMINAL.includes(session.status)) throw new Error(`session ${id} has not ended: ${res.status} ${res.text}`);
      return session;
    },
    sessionDir: (id) => path.join(dataDir, 'sessions', id),
    stateDir: (id) => path.join(dataDir, 'sessions', id, 'run'),
    async editRecord(id, change) {
      const file = path.join(dataDir, 'sessions', id, 'session.json');
      const record = JSON.parse(await readFile(file, 'utf8')) as Json;
      const next = change(record) ?? record;
      await writeFile(file, `${JSON.stringify(next, null, 2)}\n`);
    },
    async spawnStranger(command, args) {
      const child = spawn(command, args, { cwd: root, stdio: 'ignore' });
      strangers.push(child);
      const pid = child.pid;
      if (pid === undefined) throw new Error(`cannot spawn ${command}`);
      const stat = await eventually(() => readProcStat(pid).then((s) => s ?? undefined));
      return { pid, startTicks: stat.startTicks };
    },
  };
  return deployment;
}

/**
 * Kills every session process recorded in the data dir, whatever the service thinks of it: the
 * session's process group (only when its pid still has the recorded start time, so a reused pid
 * or a stranger named by a forged record is spared), its keeper (only when its argv names the
 * session's folder), and what is left in its cgroup (which it then removes).
 */
export async function killSessions(dataDir: string): Promise<void> {
  const sessionsDir = path.join(dataDir, 'sessions');
  const names = await readdir(sessionsDir).catch(() => [] as string[]);
  for (const name of names) {
    const dir = path.join(sessionsDir, name);
    const handles: Json[] = [];
    for (const file of ['keeper.json', 'session.json']) {
      try {
        const parsed = JSON.parse(await readFile(file === 'keeper.json' ? path.join(dir, 'run', file) : path.join(dir, file), 'utf8')) as Json;
        handles.push(file === 'session.json' ? (parsed.handle ?? {}) : parsed);
      } catch {
        // Missing or damaged: the other file, or the sweep, covers it.
      }
    }
    for (const h of handles) {
      if (typeof h.pid === 'number' && typeof h.start_ticks === 'number' && (await isRunning(h.pid, h.start_ticks))) {
        kill(-h.pid, 'SIGKILL');
        kill(h.pid, 'SIGKILL');
      }
      if (typeof h.keeper_pid === 'number' && (await cmdline(h.keeper_pid)).includes(dir)) kill(h.keeper_pid, 'SIGKILL');
      // With its keeper killed, nobody else empties and removes the session's cgroup.
      if (typeof h.cgroup === 'string' && isSessionCgroupDir(h.cgroup)) {
        const hierarchy = hierarchyOf(h.cgroup, readHierarchies());
        if (hierarchy) emptyCgroupSync(h.cgroup, hierarchy.version, hierarchy.controller, 5_000);
        removeCgroupSync(h.cgroup);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// A streaming client (SSE or ?follow=true) on its own connection

export interface SseEvent {
  event: string;
  id: string | undefined;
  data: string;
}

export class StreamClient {
  text = '';
  finished = false;
  /** The response ended normally (the server ended it), not by an error or reset. */
  endedCleanly = false;
  error: Error | null = null;
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private readonly waiters = new Set<() => void>();

  private constructor(
    private readonly req: http.ClientRequest,
    readonly res: http.IncomingMessage,
  ) {
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      this.text += chunk;
      this.notify();
    });
    res.on('end', () => {
      this.endedCleanly = true;
      this.finish();
    });
    res.on('error', (err) => {
      this.error = err;
      this.finish();
    });
    res.on('close', () => this.finish());
  }

  static open(baseUrl: string, urlPath: string, headers: Record<string, string> = {}): Promise<StreamClient> {
    return new Promise((resolve, reject) => {
      const req = http.get(`${baseUrl}${urlPath}`, { agent: false, headers: { ...AUTH, ...headers } }, (res) => resolve(new StreamClient(req, res)));
      req.on('error', reject);
    });
  }

  get status(): number {
    return this.res.statusCode ?? 0;
  }

  /** The complete SSE events received so far. */
  events(): SseEvent[] {
    const blocks = this.text.replace(/\r\n?/g, '\n').split('\n\n');
    blocks.pop(); // incomplete (or empty) last block
    const out: SseEvent[] = [];
    for (const block of blocks) {
      let event = 'message';
      let id: string | undefined;
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        else if (field === 'id') id = value;
        else if (field === 'data') data.push(value);
      }
      if (data.length > 0) out.push({ event, id, data: data.join('\n') });
    }
    return out;
  }

  /** The lines of one output stream, from its events. */
  lines(stream: 'stdout' | 'stderr'): string[] {
    return this.events()
      .filter((e) => e.event === stream)
      .flatMap((e) => e.data.split('\n'));
  }

  until(predicate: (c: StreamClient) => boolean, timeoutMs = 20_000, what = 'condition'): Promise<void> {
    if (predicate(this)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`stream: ${what} not met within ${timeoutMs} ms; got ${JSON.stringify(this.text.slice(-1500))}`));
      }, timeoutMs);
      const check = (): void => {
        if (predicate(this)) {
          clearTimeout(timer);
          this.waiters.delete(check);
          resolve();
        } else if (this.finished) {
          clearTimeout(timer);
          this.waiters.delete(check);
          reject(new Error(`stream: finished before ${what}; got ${JSON.stringify(this.text.slice(-1500))}`));
        }
      };
      this.waiters.add(check);
    });
  }

  /** Resolves true when the response finished within `timeoutMs`, false when it still hangs. */
  async finishedWithin(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      this.done.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    return result;
  }

  abort(): void {
    this.req.destroy();
    this.res.destroy();
  }

  private finish(): void {
    if (!this.finished) {
      this.finished = true;
      this.resolveDone();
    }
    this.notify();
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}
