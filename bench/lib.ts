// Bench helpers: the real server in its own process, plain node:http clients, an incremental
// SSE parser, percentiles and table printing.
import { spawn, type ChildProcess } from 'node:child_process';
import http, { type IncomingMessage } from 'node:http';
import net from 'node:net';
import { StringDecoder } from 'node:string_decoder';

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
  /** JSON request; throws unless the status is 2xx. */
  json(method: string, path: string, body?: unknown): Promise<any>;
  stop(): Promise<void>;
}

/** `node dist/src/server.js` with its own data dir and workspace root, logging warnings only. */
export async function startSessiond(options: { serverJs: string; dataDir: string; root: string; allowed: string[] }): Promise<Sessiond> {
  const port = await freePort();
  const token = 'bench-token-0123456789abcdef';
  const child = spawn(process.execPath, [options.serverJs], {
    env: {
      ...process.env,
      SESSIOND_HOST: '127.0.0.1',
      SESSIOND_PORT: String(port),
      SESSIOND_DATA_DIR: options.dataDir,
      SESSIOND_WORKSPACE_ROOTS: options.root,
      SESSIOND_ALLOWED_COMMANDS: options.allowed.join(','),
      SESSIOND_TOKENS: `${token}:write`,
      SESSIOND_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;

  const json: Sessiond['json'] = async (method, path, body) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
    return text ? JSON.parse(text) : null;
  };

  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`sessiond exited with ${child.exitCode}:\n${output}`);
    const ok = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) {
      await stopChild(child);
      throw new Error(`sessiond did not answer /healthz within 15 s:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { url, child, token, json, stop: () => stopChild(child, 10_000) };
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
