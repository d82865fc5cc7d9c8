// Bench section: live latency. A session writes LINES lines, one every INTERVAL_MS; a client of
// SSE (/logs/stream) or the raw follow route and `tail -F` on the same file read them at the
// same time. Each line carries the moment it was written on CLOCK_MONOTONIC, so the latency is
// "arrived minus written", no clock sync involved.
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { children, fmt, now, percentile, sleep, SseParser, stopChild, streamGet, withTimeout, type Row, type Sessiond } from './lib.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const WRITER_JS = path.resolve(here, 'line-writer.js');
/** Enough lines that p99 is not the second-worst line (noise) but the fifth. */
const LINES = 500;
const INTERVAL_MS = 10;

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


/** Rows: SSE and raw follow, p50 and p99, each against tail -F on the same file in the same pass. */
export async function liveLatency(sd: Sessiond, root: string): Promise<Row[]> {
  const rows: Row[] = [];
  for (const client of ['sse', 'follow'] as const) {
    const pass = await latencyPass(sd, root, client);
    const ours = pass.client.stats();
    const ref = pass.tail.stats();
    const name = client === 'sse' ? 'SSE /logs/stream' : 'raw /logs/stdout?follow';
    const lines = `${pass.client.count}/${LINES} lines${pass.client.duplicates ? `, ${pass.client.duplicates} dup` : ''}`;
    rows.push({ what: `live latency p50 (ms), ${name}`, sessiond: `${fmt(ours.p50)} (${lines})`, reference: `${fmt(ref.p50)} (tail -F, same file)`, ratio: ours.p50 / ref.p50, goal: '' });
    // The goal is absolute for this run: twice tail -F's p99 plus 1 ms (one more process hop).
    rows.push({ what: `live latency p99 (ms), ${name}`, sessiond: fmt(ours.p99), reference: `${fmt(ref.p99)} (tail -F, same file)`, ratio: ours.p99 / ref.p99, goal: `<= ${fmt(2 * ref.p99 + 1)} ms` });
  }
  return rows;
}
