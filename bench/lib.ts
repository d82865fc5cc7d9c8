// Bench helpers: the real server in its own process, plain node:http clients, an incremental
// SSE parser, percentiles and table printing.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import http, { type IncomingMessage } from 'node:http';
import net from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { SERVER_NODE_FLAGS } from '../src/node-flags.js';

export const now = (): bigint => process.hrtime.bigint();
export const msSince = (start: bigint): number => Number(now() - start) / 1e6;

/** A free TCP port on 127.0.0.1 (there is a short window in which someone else could take it). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Ends a child and waits for it to go (SIGKILL after `graceMs`). */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
}

export interface Sessiond {
  url: string;
  child: ChildProcess;
  token: string;
  dataDir: string;
  /** From spawning the server to its first answer to an authenticated list (listening and listing). */
  readyMs: number;
  /** JSON request; throws unless the status is 2xx. */
  json(method: string, path: string, body?: unknown): Promise<any>;
  stop(): Promise<void>;
}

export interface SessiondOptions {
  serverJs: string;
  dataDir: string;
  root: string;
  allowed: string[];
  /** More SESSIOND_* settings (a higher SESSIOND_MAX_RUNNING, say). */
  env?: Record<string, string>;
}

/** `node dist/src/server.js`, with the flags `npm start` passes (src/node-flags.ts), its own data dir and workspace root, logging warnings only. */
export async function startSessiond(options: SessiondOptions): Promise<Sessiond> {
  const port = await freePort();
  const token = 'bench-token-0123456789abcdef';
  const spawned = now();
  const child = spawn(process.execPath, [...SERVER_NODE_FLAGS, options.serverJs], {
    env: {
      ...process.env,
      SESSIOND_HOST: '127.0.0.1',
      SESSIOND_PORT: String(port),
      SESSIOND_DATA_DIR: options.dataDir,
      SESSIOND_WORKSPACE_ROOTS: options.root,
      SESSIOND_ALLOWED_COMMANDS: options.allowed.join(','),
      SESSIOND_TOKENS: `${token}:write`,
      SESSIOND_LOG_LEVEL: 'warn',
      // The bench starts and stops far more than 300 sessions a minute.
      SESSIOND_RATE_LIMIT: '1000000',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;

  // node:http over kept-alive connections: the plainest client, as thin as pm2's own RPC, so a
  // timed request measures the server rather than the client (fetch adds about 1 ms per request).
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const json: Sessiond['json'] = (method, path, body) =>
    new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = http.request(
        `${url}${path}`,
        {
          method,
          agent,
          headers: {
            authorization: `Bearer ${token}`,
            ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(payload.length) }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode ?? 0;
            if (status < 200 || status >= 300) reject(new Error(`${method} ${path} answered ${status}: ${text}`));
            else resolve(text ? JSON.parse(text) : null);
          });
        },
      );
      req.on('error', reject);
      req.end(payload);
    });

  const deadline = Date.now() + 30_000;
  const auth = { authorization: `Bearer ${token}` };
  for (;;) {
    if (child.exitCode !== null) throw new Error(`sessiond exited with ${child.exitCode}:\n${output}`);
    const ok = await fetch(`${url}/v1/sessions?limit=1`, { headers: auth }).then(
      (r) => (r.body?.cancel(), r.ok),
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      await stopChild(child);
      throw new Error(`sessiond did not list within 30 s:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const readyMs = msSince(spawned);
  const stop = async () => {
    agent.destroy();
    await stopChild(child, 10_000);
  };
  return { url, child, token, dataDir: options.dataDir, readyMs, json, stop };
}

/** A GET whose body is handed over chunk by chunk, each with the moment it arrived. */
export function streamGet(
  url: string,
  headers: Record<string, string>,
  onChunk: (chunk: Buffer, at: bigint) => void,
): { response: Promise<IncomingMessage>; done: Promise<void>; abort: () => void } {
  let abort = () => undefined as void;
  let resolveResponse!: (res: IncomingMessage) => void;
  let rejectAll!: (err: Error) => void;
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    resolveResponse = resolve;
    rejectAll = reject;
  });
  const done = new Promise<void>((resolve, reject) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      resolveResponse(res);
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`GET ${url} answered ${res.statusCode}`));
        return;
      }
      res.on('data', (chunk: Buffer) => onChunk(chunk, now()));
      res.on('end', () => resolve());
      res.on('error', reject);
    });
    req.on('error', (err) => {
      rejectAll(err);
      reject(err);
    });
    abort = () => req.destroy();
  });
  // Callers may await only one of them.
  response.catch(() => undefined);
  done.catch(() => undefined);
  return { response, done, abort: () => abort() };
}

export interface SseEvent {
  event: string;
  data: string;
  id: string | null;
}

/** An incremental Server-Sent Events parser (`\n` line ends, as sessiond writes them). */
export class SseParser {
  private readonly decoder = new StringDecoder('utf8');
  private buffer = '';
  private event = 'message';
  private data: string[] = [];
  private id: string | null = null;

  push(chunk: Buffer): SseEvent[] {
    this.buffer += this.decoder.write(chunk);
    const events: SseEvent[] = [];
    let start = 0;
    for (;;) {
      const end = this.buffer.indexOf('\n', start);
      if (end === -1) break;
      const line = this.buffer.slice(start, end);
      start = end + 1;
      if (line === '') {
        if (this.data.length > 0) events.push({ event: this.event, data: this.data.join('\n'), id: this.id });
        this.event = 'message';
        this.data = [];
        this.id = null;
      } else if (line.startsWith(':')) {
        // A comment (keep-alive).
      } else {
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        let value = colon === -1 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'event') this.event = value;
        else if (field === 'data') this.data.push(value);
        else if (field === 'id') this.id = value;
      }
    }
    this.buffer = this.buffer.slice(start);
    return events;
  }
}

/** Counts a byte pattern across chunk boundaries (a cheap check that does not parse). */
export class PatternCounter {
  count = 0;
  private carry = Buffer.alloc(0);
  constructor(private readonly pattern: Buffer) {}

  push(chunk: Buffer): void {
    const buf = this.carry.length > 0 ? Buffer.concat([this.carry, chunk]) : chunk;
    let at = buf.indexOf(this.pattern);
    while (at !== -1) {
      this.count++;
      at = buf.indexOf(this.pattern, at + this.pattern.length);
    }
    this.carry = Buffer.from(buf.subarray(Math.max(0, buf.length - this.pattern.length + 1)));
  }
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))] as number;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** A plain text table: the first column left-aligned, the others right-aligned. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (cells: string[]) =>
    cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] as number) : cell.padStart(widths[i] as number))).join('  ');
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)].join('\n');
}

/** One row of the bench's table: a sessiond figure beside its reference from the same run. */
export interface Row {
  what: string;
  sessiond: string;
  reference: string;
  /** sessiond / reference, in the unit of the row (so for a rate, higher is better; for a time, lower). */
  ratio: number;
  goal: string;
}

export const fmt = (value: number, digits = 2): string => (Number.isFinite(value) ? value.toFixed(digits) : '-');

export function printRows(rows: Row[]): string {
  return table(
    ['what', 'sessiond', 'reference', 'ratio', 'goal'],
    rows.map((r) => [r.what, r.sessiond, r.reference, Number.isFinite(r.ratio) ? fmt(r.ratio, r.ratio >= 10 ? 1 : 2) : '-', r.goal]),
  );
}

/**
 * Two measurements taken in pairs, back to back in alternating order, the ratio taken per pair:
 * a load that comes and goes on the machine then hits both sides of a pair alike. Medians.
 */
export async function paired(pairs: number, ours: () => Promise<number>, reference: () => Promise<number>): Promise<{ ours: number; reference: number; ratio: number }> {
  const a: number[] = [];
  const b: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < pairs; i++) {
    let x: number;
    let y: number;
    if (i % 2 === 0) {
      y = await reference();
      x = await ours();
    } else {
      x = await ours();
      y = await reference();
    }
    a.push(x);
    b.push(y);
    ratios.push(x / y);
  }
  return { ours: median(a), reference: median(b), ratio: median(ratios) };
}

/** Proportional set size of a process in KiB (its share of every page it maps), or NaN when it is gone. */
export async function pssKiB(pid: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => '');
  const match = /^Pss:\s+(\d+) kB/m.exec(text);
  return match ? Number(match[1]) : Number.NaN;
}

/** Resident set size of a process in KiB, or NaN when it is gone. */
export async function rssKiB(pid: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const match = /^VmRSS:\s+(\d+) kB/m.exec(text);
  return match ? Number(match[1]) : Number.NaN;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `task(i)` for i in [0, n) with at most `inFlight` at once; resolves when all are done. */
export async function pool(n: number, inFlight: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(inFlight, n) }, async () => {
      while (next < n) await task(next++);
    }),
  );
}

/** Stops (grace 0) every session of `sd` that is not final yet, and waits for them. Best effort. */
export async function stopAll(sd: Sessiond): Promise<void> {
  for (let round = 0; round < 5; round++) {
    const page = await sd.json('GET', '/v1/sessions?limit=500&status=running&status=starting&status=queued').catch(() => null);
    const items = (page?.items ?? []) as Array<{ id: string }>;
    if (items.length === 0) return;
    await pool(items.length, 8, async (i) => {
      await sd.json('POST', `/v1/sessions/${items[i]?.id}/stop`, { grace_ms: 0 }).catch(() => undefined);
    });
  }
}

/** What the bench must undo at the end, whatever happened: children to stop, steps to run (last added, first run). */
export const children = new Set<ChildProcess>();
export const cleanup: Array<() => Promise<void>> = [];

export async function runCleanup(): Promise<void> {
  for (const step of cleanup.splice(0)) await step().catch((err: unknown) => console.error('cleanup:', err));
  for (const child of children) await stopChild(child).catch(() => undefined);
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
    }),
  ]);
}

/** A server started for one section: stopped at the end of it, or by the cleanup if the section fails. */
export async function scopedSessiond(options: SessiondOptions): Promise<Sessiond & { close(): Promise<void> }> {
  const sd = await startSessiond(options);
  children.add(sd.child);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await stopAll(sd);
    await sd.stop();
    children.delete(sd.child);
  };
  cleanup.unshift(close);
  return { ...sd, close };
}
