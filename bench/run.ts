// sessiond bench (`npm run bench`): figures side by side with a reference, in one run.
//  (a) live latency: a line written by a session -> a client has it, for SSE and raw follow,
//      each next to `tail -F` on the same file at the same time;
//  (b) replay throughput of a ~100 MB log through SSE and raw GET, next to fs.createReadStream
//      and a plain node:http file server.
// Figures, not assertions: it exits 0 unless something breaks. Cleans up its folders and processes.
import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { measureGets } from './get-throughput.js';
import { eventsFanout } from './events-fanout.js';
import { followersBench } from './followers.js';
import {
  freePort,
  PatternCounter,
  SseParser,
  median,
  msSince,
  now,
  percentile,
  startSessiond,
  stopChild,
  streamGet,
  table,
  type Sessiond,
} from './lib.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const SERVER_JS = path.resolve(here, '../src/server.js');
const WRITER_JS = path.resolve(here, 'line-writer.js');
const AGENT_WRITER_JS = path.resolve(here, 'agent-writer.js');
const BARE_FASTIFY_JS = path.resolve(here, 'bare-fastify.js');
const FILE_SERVER_JS = path.resolve(here, 'file-server.js');

const LINES = 200;
const INTERVAL_MS = 20;
/** base64 of 75,000,000 random bytes: 100,000,000 characters in lines of 120, about 100.8 MB. */
const REPLAY_SCRIPT = 'head -c 75000000 /dev/urandom | base64 -w 120';
const RUNS = 3;
const MB = 1e6;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Everything to undo at the end, whatever happened. */
const cleanup: Array<() => Promise<void>> = [];
const children = new Set<ChildProcess>();

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
    }),
  ]);
}

/** Latencies (ms) per line sequence number, as one reader saw them. */
class Arrivals {
  readonly latency = new Map<number, number>();
  duplicates = 0;
  private partial = '';

  /** Text lines `L <seq> <ns> ...` that arrived at `at`. */
  lines(lines: string[], at: bigint): void {
    for (const line of lines) {
      const match = /^L (\d+) (\d+) /.exec(line);
      if (!match) continue;
      const seq = Number(match[1]);
      if (this.latency.has(seq)) this.duplicates++;
      else this.latency.set(seq, Number(at - BigInt(match[2] as string)) / 1e6);
    }
  }

  /** Raw bytes (tail -F, raw follow): split into lines, keeping a partial one for later. */
  bytes(chunk: Buffer, at: bigint): void {
    const text = this.partial + chunk.toString('utf8');
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    this.lines(lines, at);
  }

  get count(): number {
    return this.latency.size;
  }

  stats() {
    const sorted = [...this.latency.values()].sort((a, b) => a - b);
    return { p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: sorted.at(-1) ?? Number.NaN };
  }
}

interface LatencyResult {
  client: Arrivals;
  tail: Arrivals;
}

/**
 * One session writing LINES lines every INTERVAL_MS; `client` (SSE or raw follow) and `tail -F`
 * read them at the same time. Both are attached before the first line is written.
 */
async function latencyPass(sd: Sessiond, root: string, client: 'sse' | 'follow'): Promise<LatencyResult> {
  const cwd = path.join(root, `latency-${client}`);
  await fs.mkdir(cwd, { recursive: true });
  const session = await sd.json('POST', '/v1/sessions', {
    name: `latency-${client}`,
    working_directory: cwd,
    command: process.execPath,
    args: [WRITER_JS, String(LINES), String(INTERVAL_MS)],
  });
  const auth = { authorization: `Bearer ${sd.token}` };
  const clientArrivals = new Arrivals();
  const tailArrivals = new Arrivals();

  let ready: Promise<unknown>;
  let clientDone: Promise<void>;
  let abortClient: () => void;
  if (client === 'sse') {
    const parser = new SseParser();
    let sawEnd = false;
    let onStatus!: () => void;
    ready = new Promise<void>((resolve) => (onStatus = resolve));
    const get = streamGet(`${sd.url}/v1/sessions/${session.id}/logs/stream?from=start&streams=stdout`, auth, (chunk, at) => {
      for (const event of parser.push(chunk)) {
        if (event.event === 'stdout') clientArrivals.lines(event.data.split('\n'), at);
        else if (event.event === 'status') onStatus();
        else if (event.event === 'end') sawEnd = true;
      }
    });
    clientDone = get.done.then(() => {
      if (!sawEnd) throw new Error('the SSE stream closed without an end event');
    });
    abortClient = get.abort;
  } else {
    // Headers go out with the first bytes, so there is nothing to wait for but the request itself.
    const get = streamGet(`${sd.url}/v1/sessions/${session.id}/logs/stdout?follow=true`, auth, (chunk, at) =>
      clientArrivals.bytes(chunk, at),
    );
    ready = sleep(100);
    clientDone = get.done;
    abortClient = get.abort;
  }

  const tail = spawn('tail', ['-F', '-n', '0', session.log_path], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(tail);
  tail.stdout.on('data', (chunk: Buffer) => tailArrivals.bytes(chunk, now()));
  try {
    await withTimeout(ready, 10_000, `${client} connect`);
    // tail -F has no "ready" signal: give it a moment to open the file and set up inotify.
    await sleep(500);
    await fs.writeFile(path.join(cwd, 'go'), '');
    const ended = await sd.json('POST', `/v1/sessions/${session.id}/wait`, { timeout_ms: 60_000 });
    if (ended.status !== 'exited') throw new Error(`the writer session ended as ${ended.status}`);
    await withTimeout(clientDone, 10_000, `${client} end`);
    const deadline = Date.now() + 2000;
    while (tailArrivals.count < LINES && Date.now() < deadline) await sleep(20);
  } finally {
    abortClient();
    await stopChild(tail);
    children.delete(tail);
  }
  return { client: clientArrivals, tail: tailArrivals };
}

interface Replay {
  name: string;
  reference: boolean;
  seconds: number[];
  bytes: number;
  note: string;
}

async function timeRuns(run: () => Promise<{ bytes: number; note?: string }>): Promise<{ seconds: number[]; bytes: number; note: string }> {
  const seconds: number[] = [];
  let bytes = 0;
  let note = '';
  for (let i = 0; i < RUNS; i++) {
    const start = now();
    const result = await run();
    seconds.push(msSince(start) / 1000);
    bytes = result.bytes;
    note = result.note ?? '';
  }
  return { seconds, bytes, note };
}

async function httpCount(url: string, headers: Record<string, string>, onChunk?: (chunk: Buffer) => void): Promise<number> {
  let bytes = 0;
  const get = streamGet(url, headers, (chunk) => {
    bytes += chunk.length;
    onChunk?.(chunk);
  });
  await withTimeout(get.done, 120_000, url);
  return bytes;
}

async function replayPass(sd: Sessiond, root: string): Promise<{ size: number; lines: number; rows: Replay[] }> {
  const cwd = path.join(root, 'replay');
  await fs.mkdir(cwd, { recursive: true });
  const session = await sd.json('POST', '/v1/sessions', { name: 'replay', working_directory: cwd, command: 'bash', args: ['-c', REPLAY_SCRIPT] });
  const ended = await sd.json('POST', `/v1/sessions/${session.id}/wait`, { timeout_ms: 120_000 });
  if (ended.status !== 'exited') throw new Error(`the replay session ended as ${ended.status}`);
  const file = session.log_path as string;
  const size = (await fs.stat(file)).size;
  // Counting lines also puts the file in the page cache: every reader below reads it from memory.
  const newlines = new PatternCounter(Buffer.from('\n'));
  await pipeline(createReadStream(file), new Writable({ write: (chunk: Buffer, _e, cb) => (newlines.push(chunk), cb()) }));
  const lines = newlines.count;
  const auth = { authorization: `Bearer ${sd.token}` };
  const rows: Replay[] = [];

  // Reference 1: the file read by Node itself, to nothing.
  const fsRuns = await timeRuns(async () => {
    let bytes = 0;
    await pipeline(createReadStream(file), new Writable({ write: (chunk: Buffer, _e, cb) => ((bytes += chunk.length), cb()) }));
    return { bytes };
  });
  rows.push({ name: 'fs.createReadStream -> nothing', reference: true, ...fsRuns });

  // Reference 2: the plainest Node HTTP file server, in its own process, read by the same client.
  const fileServer = spawn(process.execPath, [FILE_SERVER_JS, file], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(fileServer);
  try {
    const port = await withTimeout(
      new Promise<number>((resolve, reject) => {
        fileServer.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
        fileServer.once('exit', (code) => reject(new Error(`file-server exited with ${code}`)));
      }),
      10_000,
      'file-server start',
    );
    const plain = await timeRuns(async () => ({ bytes: await httpCount(`http://127.0.0.1:${port}/`, {}) }));
    rows.push({ name: 'node:http + createReadStream', reference: true, ...plain });
  } finally {
    await stopChild(fileServer);
    children.delete(fileServer);
  }

  const raw = await timeRuns(async () => ({ bytes: await httpCount(`${sd.url}/v1/sessions/${session.id}/logs/stdout`, auth) }));
  rows.push({ name: 'GET /logs/stdout (raw)', reference: false, ...raw });

  const dataLinesPerRun: number[] = [];
  const sse = await timeRuns(async () => {
    const dataLines = new PatternCounter(Buffer.from('\ndata: '));
    let last = Buffer.alloc(0);
    const bytes = await httpCount(`${sd.url}/v1/sessions/${session.id}/logs/stream?from=start`, auth, (chunk) => {
      dataLines.push(chunk);
      last = Buffer.concat([last, chunk]).subarray(-16384);
    });
    if (!last.includes('\nevent: end\n')) throw new Error('the SSE replay closed without an end event');
    // Two data lines are not log lines: the status event at the start and the end event.
    dataLinesPerRun.push(dataLines.count - 2);
    const counts = dataLinesPerRun.map((n) => (n === lines ? 'all' : `${n}`)).join(' / ');
    return { bytes, note: `${(bytes / MB).toFixed(1)} MB on the wire; data lines per run: ${counts}` };
  });
  rows.push({ name: 'GET /logs/stream?from=start (SSE)', reference: false, ...sse });
  return { size, lines, rows };
}

const f = (value: number, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : '-');

/** One row of the summary: a sessiond figure, its reference from the same run, the ratio and the goal. */
interface SummaryRow {
  what: string;
  sessiond: string;
  reference: string;
  ratio: number;
  goal: string;
}
const summary: SummaryRow[] = [];

const GET_CONNECTIONS = 32;
const GET_MS = 2000;
const GET_PAIRS = 5;

/** (c) GET of a running session against a bare Fastify route answering the same JSON. */
async function getPass(sd: Sessiond, root: string, base: string): Promise<void> {
  const session = await sd.json('POST', '/v1/sessions', { name: 'bench get', working_directory: root, command: 'bash', args: ['-c', 'sleep 600'] });
  cleanup.unshift(async () => void (await sd.json('POST', `/v1/sessions/${session.id}/stop`, { grace_ms: 0 }).catch(() => undefined)));
  const body = await sd.json('GET', `/v1/sessions/${session.id}`);
  const file = path.join(base, 'session.json');
  await fs.writeFile(file, JSON.stringify(body));
  const port = await freePort();
  const bare = spawn(process.execPath, [BARE_FASTIFY_JS, String(port), file], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(bare);
  await new Promise<void>((resolve, reject) => {
    bare.stdout?.once('data', () => resolve());
    bare.once('exit', (code) => reject(new Error(`bare fastify exited with ${code}`)));
  });
  const sdUrl = `${sd.url}/v1/sessions/${session.id}`;
  const refUrl = `http://127.0.0.1:${port}/v1/sessions/${session.id}`;
  const auth = { authorization: `Bearer ${sd.token}` };
  // Warm both (JIT, connections), then alternate so drift hits both alike.
  await measureGets(sdUrl, auth, GET_CONNECTIONS, 500);
  await measureGets(refUrl, {}, GET_CONNECTIONS, 500);
  // Pairs run back to back, in alternating order, and the ratio is taken per pair: a load that
  // comes and goes on the machine then hits both sides of a pair alike.
  const ours: number[] = [];
  const refs: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < GET_PAIRS; i++) {
    const first = i % 2 === 0 ? 'ref' : 'ours';
    const runRef = () => measureGets(refUrl, {}, GET_CONNECTIONS, GET_MS);
    const runOurs = () => measureGets(sdUrl, auth, GET_CONNECTIONS, GET_MS);
    const a = first === 'ref' ? await runRef() : await runOurs();
    const b = first === 'ref' ? await runOurs() : await runRef();
    const [ref, our] = first === 'ref' ? [a, b] : [b, a];
    refs.push(ref.perSecond);
    ours.push(our.perSecond);
    ratios.push(our.perSecond / ref.perSecond);
  }
  await stopChild(bare);
  children.delete(bare);
  const a = median(ours);
  const b = median(refs);
  console.log(`\n(c) GET /v1/sessions/{id} of a running session, ${GET_CONNECTIONS} keep-alive connections, ${GET_PAIRS} pairs of ${GET_MS / 1000} s runs, medians`);
  console.log(`    sessiond ${f(a, 0)} req/s (${ours.map((x) => f(x, 0)).join(' ')}); bare Fastify, same JSON ${f(b, 0)} req/s (${refs.map((x) => f(x, 0)).join(' ')})`);
  console.log(`    ratio per pair: ${ratios.map((x) => f(x)).join(' ')}`);
  summary.push({ what: 'GET a running session (req/s)', sessiond: f(a, 0), reference: `${f(b, 0)} (bare Fastify, same JSON)`, ratio: median(ratios), goal: '>= 0.6' });
}

/**
 * The log index's cost on disk: a session writing a realistic agent transcript (one write per
 * stream-json line, every 2 ms, a stderr note per turn); logs.idx beside its logs, after it ended.
 */
async function indexPass(sd: Sessiond, root: string, dataDir: string): Promise<{ logBytes: number; indexBytes: number }> {
  const cwd = path.join(root, 'index');
  await fs.mkdir(cwd, { recursive: true });
  const session = await sd.json('POST', '/v1/sessions', { name: 'index', working_directory: cwd, command: process.execPath, args: [AGENT_WRITER_JS, '150', '2'] });
  const ended = await sd.json('POST', `/v1/sessions/${session.id}/wait`, { timeout_ms: 120_000 });
  if (ended.status !== 'exited') throw new Error(`the index session ended as ${ended.status}`);
  // The watcher notes the last bytes as the end is recorded: give it a moment.
  await sleep(300);
  const dir = path.join(dataDir, 'sessions', session.id as string);
  const size = async (name: string) => (await fs.stat(path.join(dir, name))).size;
  return { logBytes: (await size('stdout.log')) + (await size('stderr.log')), indexBytes: await size('logs.idx') };
}

async function main() {
  const started = now();
  const base = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'sessiond-bench-')));
  cleanup.push(() => fs.rm(base, { recursive: true, force: true }));
  const root = path.join(base, 'root');
  const dataDir = path.join(base, 'data');
  await fs.mkdir(root);
  await fs.mkdir(dataDir);

  const sd = await startSessiond({ serverJs: SERVER_JS, dataDir, root, allowed: ['bash', process.execPath] });
  children.add(sd.child);
  cleanup.unshift(async () => {
    await sd.stop();
    children.delete(sd.child);
  });

  const cpus = os.cpus();
  console.log(`sessiond bench: node ${process.version}, ${os.platform()} ${os.arch()}, ${cpus.length} cores (${cpus[0]?.model ?? '?'})`);
  console.log('server: node dist/src/server.js in its own process, log level warn; clients: node:http in this process\n');

  // (a) live latency
  const sse = await latencyPass(sd, root, 'sse');
  const follow = await latencyPass(sd, root, 'follow');
  console.log(`(a) live latency: line written by the session -> line received by the reader`);
  console.log(`    ${LINES} lines of ~100 bytes, one every ${INTERVAL_MS} ms; ms on the system monotonic clock; tail -F reads the same file at the same time\n`);
  const latencyRow = (name: string, a: Arrivals) => {
    const s = a.stats();
    return [name, f(s.p50), f(s.p90), f(s.p99), f(s.max), `${a.count}/${LINES}${a.duplicates ? ` (${a.duplicates} dup)` : ''}`];
  };
  const ratioRow = (name: string, a: Arrivals, b: Arrivals) => {
    const x = a.stats();
    const y = b.stats();
    return [name, `x${f(x.p50 / y.p50, 1)}`, `x${f(x.p90 / y.p90, 1)}`, `x${f(x.p99 / y.p99, 1)}`, `x${f(x.max / y.max, 1)}`, ''];
  };
  console.log(
    table(
      ['reader', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'lines'],
      [
        latencyRow('SSE  /logs/stream', sse.client),
        latencyRow('  tail -F (reference, same run)', sse.tail),
        ratioRow('  SSE / tail -F', sse.client, sse.tail),
        latencyRow('raw  /logs/stdout?follow=true', follow.client),
        latencyRow('  tail -F (reference, same run)', follow.tail),
        ratioRow('  follow / tail -F', follow.client, follow.tail),
      ],
    ),
  );

  // (b) replay throughput
  const replay = await replayPass(sd, root);
  const ref = replay.rows[0] as Replay;
  const refRate = replay.size / MB / median(ref.seconds);
  console.log(`\n(b) replay: a finished session's stdout log, ${f(replay.size / MB, 1)} MB (${replay.lines} lines of 121 bytes), from the page cache`);
  console.log(`    median of ${RUNS} runs; MB/s = log bytes (1 MB = 10^6 bytes) / seconds until the response ended\n`);
  console.log(
    table(
      ['reader', 'median s', 'runs s', 'log MB/s', 'vs fs', 'vs node:http', 'note'],
      replay.rows.map((row) => {
        const rate = replay.size / MB / median(row.seconds);
        const httpRef = replay.rows[1] as Replay;
        const httpRate = replay.size / MB / median(httpRef.seconds);
        const bytesNote = row.name.includes('SSE') ? row.note : row.bytes === replay.size ? 'byte count matches' : `${row.bytes} bytes!`;
        return [
          `${row.name}${row.reference ? ' (reference)' : ''}`,
          f(median(row.seconds), 3),
          row.seconds.map((s) => f(s, 2)).join(' '),
          f(rate, 0),
          `x${f(rate / refRate, 3)}`,
          row === ref ? '' : `x${f(rate / httpRate, 2)}`,
          bytesNote,
        ];
      }),
    ),
  );
  // (c) requests
  await getPass(sd, root, base);

  // (e) the log index's cost on disk
  const index = await indexPass(sd, root, dataDir);
  const overhead = index.indexBytes / index.logBytes;
  console.log(`\n(e) log index: ${index.indexBytes} bytes of logs.idx for ${index.logBytes} bytes of agent output (one entry per write): ${f(overhead * 100, 2)}%`);
  summary.push({ what: 'log index on disk (% of the logs)', sessiond: f(overhead * 100, 2), reference: `${index.logBytes} bytes of agent stream-json`, ratio: overhead, goal: '<= 5%' });

  // (d) lifecycle events fan-out
  const fan = await eventsFanout();
  console.log(`\n(d) /v1/events fan-out: ${fan.subscribers} subscribers, ${fan.events} events each`);
  console.log(`    server RSS growth ${f(fan.rssDeltaMiB, 1)} MiB; the same number of idle connections to a bare node:http server: ${f(fan.referenceRssDeltaMiB, 1)} MiB`);
  summary.push({
    what: `events fan-out, ${fan.subscribers} subscribers (MiB)`,
    sessiond: f(fan.rssDeltaMiB, 1),
    reference: `${f(fan.referenceRssDeltaMiB, 1)} (idle node:http connections)`,
    ratio: fan.rssDeltaMiB / Math.max(fan.referenceRssDeltaMiB, 0.1),
    goal: '<= 50 MiB',
  });

  // (f) many SSE followers of one big session
  const fol = await followersBench();
  console.log(`\n(f) ${fol.followers} SSE followers of a ${f(fol.logBytes / MB, 1)} MB session: server RSS growth peak ${f(fol.peakRssDeltaMiB, 1)} MiB, settled ${f(fol.settledRssDeltaMiB, 1)} MiB`);
  summary.push({ what: `${fol.followers} followers of a 20 MB session (MiB)`, sessiond: f(fol.peakRssDeltaMiB, 1), reference: `${f(fol.baselineRssMiB, 0)} (server RSS before)`, ratio: fol.peakRssDeltaMiB / 100, goal: '<= 100 MiB' });

  const sseRow = sse.client.stats();
  const sseRef = sse.tail.stats();
  summary.unshift({ what: 'SSE live latency p50 (ms)', sessiond: f(sseRow.p50), reference: `${f(sseRef.p50)} (tail -F)`, ratio: sseRow.p50 / sseRef.p50, goal: '' });
  const sseReplay = replay.rows.find((r) => r.name.includes('SSE'));
  if (sseReplay) {
    const rate = replay.size / MB / median(sseReplay.seconds);
    summary.splice(1, 0, { what: 'SSE replay (MB/s)', sessiond: f(rate, 0), reference: `${f(refRate, 0)} (fs.createReadStream)`, ratio: rate / refRate, goal: '' });
  }
  console.log('\nsummary: every figure beside its reference from this same run\n');
  console.log(table(['what', 'sessiond', 'reference', 'ratio', 'goal'], summary.map((r) => [r.what, r.sessiond, r.reference, f(r.ratio, 2), r.goal])));
  console.log(`\ntotal ${f(msSince(started) / 1000, 1)} s`);
}

async function runCleanup() {
  for (const child of children) await stopChild(child).catch(() => undefined);
  for (const step of cleanup.splice(0)) await step().catch((err: unknown) => console.error('cleanup:', err));
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void runCleanup().finally(() => process.exit(130));
  });
}

main()
  .then(runCleanup)
  .catch(async (err: unknown) => {
    console.error('bench failed:', err instanceof Error ? err.stack ?? err.message : err);
    await runCleanup();
    process.exitCode = 1;
  });
