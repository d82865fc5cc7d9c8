// Bench section: replay throughput. A finished session's ~100 MB stdout log, read whole through
// sessiond's raw route and its SSE replay, against the plainest Node HTTP file server
// (node:http + fs.createReadStream, its own process) and fs.createReadStream to nothing.
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { children, fmt, median, msSince, now, PatternCounter, stopChild, streamGet, withTimeout, type Row, type Sessiond } from './lib.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const FILE_SERVER_JS = path.resolve(here, 'file-server.js');
/** base64 of 75,000,000 random bytes: 100,000,000 characters in lines of 120, about 100.8 MB. */
const REPLAY_SCRIPT = 'head -c 75000000 /dev/urandom | base64 -w 120';
const RUNS = 3;
const MB = 1e6;

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


/** Rows: raw and SSE replay against the node:http file server, and the file server against fs itself. */
export async function replayThroughput(sd: Sessiond, root: string): Promise<Row[]> {
  const replay = await replayPass(sd, root);
  const rate = (row: Replay) => replay.size / MB / median(row.seconds);
  const byName = (name: string) => replay.rows.find((r) => r.name.startsWith(name)) as Replay;
  const httpRef = byName('node:http');
  const check = (row: Replay) => (row.bytes === replay.size ? '' : ` (${row.bytes} bytes, not ${replay.size}!)`);
  const rows: Row[] = [];
  for (const [name, row] of [['raw GET /logs/stdout', byName('GET /logs/stdout')], ['SSE /logs/stream?from=start', byName('GET /logs/stream')]] as const) {
    const note = row.name.includes('SSE') ? ` (${row.note.replace(/^.*data lines per run: /, 'data lines: ')})` : check(row);
    rows.push({
      what: `replay of ${fmt(replay.size / MB, 0)} MB (MB/s), ${name}`,
      sessiond: `${fmt(rate(row), 0)}${note}`,
      reference: `${fmt(rate(httpRef), 0)} (node:http + createReadStream)`,
      ratio: rate(row) / rate(httpRef),
      // Issue 11: SSE replay at least half a bare file stream. The raw route has no goal of its
      // own: about 1.0 before the heap flags of src/node-flags.ts, 0.7 with them in 64 KiB
      // reads, 0.9-1.0 in 256 KiB reads (src/sessions/session-logs.ts).
      goal: name.startsWith('SSE') ? '>= 0.5' : '',
    });
  }
  return rows;
}
