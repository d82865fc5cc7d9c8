// Streaming test kit: the real app (file store, local processes) on a real port, a small JSON
// client, and an SSE client that parses the stream incrementally, as a browser's EventSource
// would (the WHATWG algorithm), over node:http with no connection pooling, so a test knows
// exactly which sockets it holds.
import http from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import type { Test } from 'tap';
import { buildApp } from '../../src/app.js';
import type { Config } from '../../src/config.js';
import { testConfig } from '../helper.js';

// ---------------------------------------------------------------------------------------------
// SSE parsing

export interface SseEvent {
  type: 'event';
  /** The `id` field of this event, or undefined when it had none. */
  id: string | undefined;
  event: string;
  /** The data fields, joined with `\n`. */
  data: string;
}
export interface SseComment {
  type: 'comment';
  text: string;
}
export interface SseRetry {
  type: 'retry';
  ms: number;
}
export type SseItem = SseEvent | SseComment | SseRetry;

/** An incremental SSE parser: feed bytes as they come, get the items they complete. */
export class SseParser {
  private readonly decoder = new StringDecoder('utf8');
  private buffer = '';
  /** The last character seen was a `\r`: a `\n` right after it belongs to the same line end. */
  private afterCR = false;
  private id: string | undefined;
  private event = '';
  private data: string[] = [];
  private hasData = false;
  /** The stream's last event id (persists across events, as EventSource keeps it). */
  lastEventId = '';

  push(chunk: Buffer): SseItem[] {
    let text = this.decoder.write(chunk);
    if (this.afterCR && text.startsWith('\n')) text = text.slice(1);
    if (text.length > 0) this.afterCR = false;
    this.buffer += text;
    const out: SseItem[] = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      if (!match) break;
      // A `\r` at the very end may be the first half of `\r\n`: the line ends either way.
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      if (match[0] === '\r' && this.buffer.length === 0) this.afterCR = true;
      this.line(line, out);
    }
    return out;
  }

  private line(line: string, out: SseItem[]): void {
    if (line === '') {
      if (this.hasData) {
        out.push({ type: 'event', id: this.id, event: this.event || 'message', data: this.data.join('\n') });
      }
      this.id = undefined;
      this.event = '';
      this.data = [];
      this.hasData = false;
      return;
    }
    if (line.startsWith(':')) {
      out.push({ type: 'comment', text: line.slice(1).replace(/^ /, '') });
      return;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    switch (field) {
      case 'event':
        this.event = value;
        break;
      case 'data':
        this.data.push(value);
        this.hasData = true;
        break;
      case 'id':
        if (!value.includes('\0')) {
          this.id = value;
          this.lastEventId = value;
        }
        break;
      case 'retry':
        if (/^\d+$/.test(value)) out.push({ type: 'retry', ms: Number(value) });
        break;
      default:
        break;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Credentials: every request these helpers send carries the configured write token (when the
// config has tokens), unless the caller sets `authorization` itself.

let defaultHeaders: Record<string, string> = {};

/** The Authorization header for the config's write token, or none when it has no tokens. */
export function authHeaders(config: Pick<Config, 'tokens'>): Record<string, string> {
  const token = config.tokens.find((entry) => entry.scope === 'write') ?? config.tokens[0];
  return token ? { authorization: `Bearer ${token.token}` } : {};
}

/** Makes the helpers send this config's token from now on (startRealServer does it). */
export function useToken(config: Pick<Config, 'tokens'>): void {
  defaultHeaders = authHeaders(config);
}

/** `noAuth`: send no Authorization header at all (as a browser's EventSource cannot). */
const withAuth = (headers: Record<string, string> = {}, noAuth = false) =>
  noAuth || 'authorization' in headers ? headers : { ...defaultHeaders, ...headers };

// ---------------------------------------------------------------------------------------------
// SSE client

export interface SseClientOptions {
  headers?: Record<string, string>;
  /** Send no Authorization header (the token goes in ?access_token=, or nowhere). */
  noAuth?: boolean;
}

/** One SSE connection: items arrive in `items` as they are parsed; wait on them with `until`. */
export class SseClient {
  readonly items: SseItem[] = [];
  /** Raw bytes received (to look at the exact wire text when needed). */
  readonly raw: Buffer[] = [];
  /** The response ended or the connection closed (by the server, or by abort). */
  finished = false;
  /** True when the response body ended normally (the server closed it), not by abort or error. */
  endedCleanly = false;
  error: Error | null = null;
  private readonly parser = new SseParser();
  private readonly waiters = new Set<() => void>();
  private aborted = false;

  private constructor(
    private readonly req: http.ClientRequest,
    readonly res: http.IncomingMessage,
  ) {
    res.on('data', (chunk: Buffer) => {
      this.raw.push(chunk);
      this.items.push(...this.parser.push(chunk));
      this.notify();
    });
    res.on('end', () => {
      this.endedCleanly = !this.aborted;
      this.finish();
    });
    res.on('error', (err) => {
      if (!this.aborted) this.error = err;
      this.finish();
    });
    res.on('close', () => this.finish());
  }

  /** Connects; resolves once the response head has arrived (any status). */
  static open(url: string, options: SseClientOptions = {}): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const req = http.get(url, { agent: false, headers: withAuth({ accept: 'text/event-stream', ...options.headers }, options.noAuth) }, (res) => {
        resolve(new SseClient(req, res));
      });
      req.on('error', reject);
    });
  }

  get status(): number {
    return this.res.statusCode ?? 0;
  }

  get headers(): http.IncomingHttpHeaders {
    return this.res.headers;
  }

  get events(): SseEvent[] {
    return this.items.filter((item): item is SseEvent => item.type === 'event');
  }

  get comments(): string[] {
    return this.items.filter((item): item is SseComment => item.type === 'comment').map((item) => item.text);
  }

  /** Output events (stdout / stderr) only. */
  output(stream?: 'stdout' | 'stderr'): SseEvent[] {
    return this.events.filter((e) => (stream ? e.event === stream : e.event === 'stdout' || e.event === 'stderr'));
  }

  /** The lines of one stream, in order (each output event's data split on `\n`). */
  lines(stream: 'stdout' | 'stderr'): string[] {
    return this.output(stream).flatMap((e) => e.data.split('\n'));
  }

  text(): string {
    return Buffer.concat(this.raw).toString('utf8');
  }

  /** Waits until `predicate` holds; rejects after `timeoutMs`, or when the stream finished first. */
  until(predicate: (client: SseClient) => boolean, timeoutMs = 20000, what = 'condition'): Promise<void> {
    if (predicate(this)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`SSE: ${what} not met within ${timeoutMs} ms; got ${JSON.stringify(this.items).slice(-2000)}`));
      }, timeoutMs);
      const check = () => {
        if (predicate(this)) {
          clearTimeout(timer);
          this.waiters.delete(check);
          resolve();
        } else if (this.finished) {
          clearTimeout(timer);
          this.waiters.delete(check);
          reject(new Error(`SSE: the stream finished before ${what}; got ${JSON.stringify(this.items).slice(-2000)}`));
        }
      };
      this.waiters.add(check);
    });
  }

  /** Waits for the `end` event and returns it. */
  async untilEnd(timeoutMs = 30000): Promise<SseEvent> {
    await this.until((c) => c.events.some((e) => e.event === 'end'), timeoutMs, 'the end event');
    return this.events.find((e) => e.event === 'end') as SseEvent;
  }

  /** Waits until the response has finished (the server closed it, or it was aborted). */
  closed(timeoutMs = 20000): Promise<void> {
    if (this.finished) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`SSE: the response did not close within ${timeoutMs} ms`));
      }, timeoutMs);
      const check = () => {
        if (!this.finished) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      this.waiters.add(check);
    });
  }

  /** Drops the connection, as a closed browser tab would. */
  abort(): void {
    this.aborted = true;
    this.req.destroy();
    this.res.destroy();
  }

  private finish(): void {
    this.finished = true;
    this.notify();
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

// ---------------------------------------------------------------------------------------------
// Plain HTTP (no pooling: every request has its own connection, closed after the response)

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  json<T = any>(): T;
}

export function request(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: unknown; noAuth?: boolean } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
    const headers: Record<string, string> = withAuth(options.headers, options.noAuth);
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    const req = http.request(url, { method: options.method ?? 'GET', agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body.toString('utf8')) });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

// ---------------------------------------------------------------------------------------------
// The real server

export interface RealServer {
  url: string;
  app: Awaited<ReturnType<typeof buildApp>>;
  config: Config;
  root: string;
}

/** The app with the REAL file store and process adapter on 127.0.0.1:<free port>; closed, and
 * every live session stopped, in teardown. */
export async function startRealServer(t: Test, env: Record<string, string> = {}): Promise<RealServer> {
  const config = await testConfig(t, { SESSIOND_ALLOWED_COMMANDS: 'bash', ...env });
  const app = await buildApp({ config, logger: false, forceCloseConnections: true });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('the server has no TCP address');
  const url = `http://127.0.0.1:${address.port}`;
  useToken(config);
  const auth = authHeaders(config);
  t.teardown(async () => {
    // No process may outlive the test: stop every session still alive (grace 0), then close.
    try {
      const list = await app.inject({ url: '/v1/sessions?status=running&status=starting&limit=500', headers: auth });
      const items = (list.json() as { items: Array<{ id: string }> }).items;
      await Promise.all(
        items.map((s) =>
          app.inject({ method: 'POST', url: `/v1/sessions/${s.id}/stop`, payload: { grace_ms: 0 }, headers: auth }),
        ),
      );
    } catch {
      // The app was already closed by the test: it stops its own sessions.
    }
    await app.close();
  });
  return { url, app, config, root: config.workspaceRoots[0] as string };
}

export interface SessionJson {
  id: string;
  status: string;
  pid: number | null;
  exit_code: number | null;
  log_path: string;
  stderr_path: string;
  [key: string]: unknown;
}

/** Starts `bash -c <script>` in the workspace root; fails the test unless it answers 201. */
export async function startBash(server: RealServer, script: string, name = 'stream-test'): Promise<SessionJson> {
  const res = await request(`${server.url}/v1/sessions`, {
    method: 'POST',
    body: { name, working_directory: server.root, command: 'bash', args: ['-c', script] },
  });
  if (res.status !== 201) throw new Error(`start failed: ${res.status} ${res.body.toString()}`);
  return res.json<SessionJson>();
}

/** Blocks until the session has ended (POST /wait), up to `timeoutMs`. */
export async function waitEnded(server: RealServer, id: string, timeoutMs = 60000): Promise<SessionJson> {
  const res = await request(`${server.url}/v1/sessions/${id}/wait`, { method: 'POST', body: { timeout_ms: timeoutMs } });
  return res.json<SessionJson>();
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `<stdout>-<stderr>` as numbers. */
export function parseId(id: string | undefined): { stdout: number; stderr: number } {
  const m = /^(\d+)-(\d+)$/.exec(id ?? '');
  if (!m) throw new Error(`not an event id: ${id}`);
  return { stdout: Number(m[1]), stderr: Number(m[2]) };
}

/** The lines of a numbered-output script, `prefix 1` .. `prefix n`. */
export const numbered = (prefix: string, n: number, from = 1) =>
  Array.from({ length: n }, (_, i) => `${prefix} ${i + from}`);
