// Bounded memory on the REAL server (issue 9, point 1), as the attack was made: 4 parallel
// readers of a 400 MB sparse report.md (v1 read it whole: 5.5 GB), and `tail_bytes=Infinity` on
// a 200 MB log (v1 passed it and read the whole log, 8 requests: 5 GB). What a read costs is the
// server's peak RSS during it (VmHWM, reset before) above its RSS before it.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import t from 'tap';
import { TEST_TOKENS } from '../helper.js';
import { deploy, type ServerProcess } from '../reliability/server-process.js';

const MiB = 1024 * 1024;
const BUDGET = 100 * MiB;

function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** Resets the peak to the current RSS (Linux 4.0+); without it the start-up peak counts too (stricter). */
function resetPeak(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    // Not allowed here: the measure only gets stricter.
  }
}

/** What `reads` cost the server: its peak RSS while they ran above its RSS before. */
async function cost<T>(server: ServerProcess, reads: () => Promise<T>): Promise<{ bytes: number; result: T }> {
  resetPeak(server.pid);
  const before = memory(server.pid).rss;
  const result = await reads();
  return { bytes: memory(server.pid).peak - before, result };
}

/** GET on its own connection; counts the body's bytes without keeping them. */
function countBody(url: string): Promise<{ status: number; bytes: number; headers: http.IncomingHttpHeaders; head: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers: { authorization: `Bearer ${TEST_TOKENS.read}` } }, (res) => {
      let bytes = 0;
      let head = '';
      res.on('data', (chunk: Buffer) => {
        if (head.length < 4096) head += chunk.toString('utf8', 0, Math.min(chunk.length, 4096));
        bytes += chunk.length;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, headers: res.headers, head }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;

t.test('4 readers of a 400 MB report cost the server under 100 MiB', async (t) => {
  const d = await deploy(t);
  await d.start();
  const dir = path.join(d.root, 'rep');
  await mkdir(dir);
  // Sparse: 400 MB that take no disk.
  const session = await d.run('truncate -s 400M report.md', { working_directory: dir, expects_report: true });
  t.equal((await d.waitEnded(session.id as string)).status, 'completed', 'the session wrote its report');
  const url = `${d.server.url}/v1/sessions/${session.id}/report`;

  const refused = await cost(d.server, () => Promise.all(Array.from({ length: 4 }, () => countBody(url))));
  for (const res of refused.result) {
    t.equal(res.status, 413, 'over the default 10 MiB: 413');
    t.match(res.headers['content-type'], /^application\/problem\+json/);
    t.match(JSON.parse(res.head), { code: 'report_too_large' });
  }
  t.ok(refused.bytes < BUDGET, `refusing 4 readers cost ${mib(refused.bytes)}`);

  // The limit raised past the report's size: now it is streamed, 4 times at once.
  d.env.SESSIOND_MAX_REPORT_BYTES = String(512 * MiB);
  const server = await d.restart('SIGTERM');
  const streamed = await cost(server, () => Promise.all(Array.from({ length: 4 }, () => countBody(`${server.url}/v1/sessions/${session.id}/report`))));
  for (const res of streamed.result) {
    t.equal(res.status, 200);
    t.equal(res.bytes, 400 * MiB, 'every reader got the whole report');
    t.equal(res.headers['content-length'], String(400 * MiB));
  }
  t.ok(streamed.bytes < BUDGET, `streaming 4 × 400 MB cost ${mib(streamed.bytes)} (v1: 5.5 GB)`);
});

t.test('tail_bytes=Infinity is refused; 8 tails of a 200 MB log at the cap, and 8 whole downloads of it, cost under 100 MiB', async (t) => {
  const d = await deploy(t);
  const server = await d.start();
  // The session's own stdout becomes 200 MB (sparse), then 3 MB of text at its end.
  const session = await d.run('truncate -s 200M /proc/self/fd/1 && head -c 2200000 /dev/urandom | base64 -w 100');
  await d.waitEnded(session.id as string);
  const base = `${server.url}/v1/sessions/${session.id}/logs`;

  for (const value of ['Infinity', '1e999', '-1', 'NaN']) {
    const res = await countBody(`${base}?tail_bytes=${value}`);
    t.equal(res.status, 400, `tail_bytes=${value}: 400`);
    t.match(JSON.parse(res.head), { code: 'validation_failed' });
  }
  const sse = await countBody(`${base}/stream?tail_bytes=Infinity`);
  t.equal(sse.status, 400, 'the SSE tail_bytes too');

  const tails = await cost(server, () => Promise.all(Array.from({ length: 8 }, () => countBody(`${base}?tail_bytes=1048576`))));
  for (const res of tails.result) {
    t.equal(res.status, 200);
    t.ok(res.bytes < 1.1 * MiB, `a tail at the cap is about 1 MiB of JSON (${mib(res.bytes)})`);
  }
  t.ok(tails.bytes < BUDGET, `8 tails of a 200 MB log cost ${mib(tails.bytes)} (v1 with Infinity: 5 GB)`);

  // The whole log, 8 downloads at once: streamed 256 KiB at a time with backpressure, never held.
  const size = statSync(path.join(d.sessionDir(session.id as string), 'stdout.log')).size;
  const downloads = await cost(server, () => Promise.all(Array.from({ length: 8 }, () => countBody(`${base}/stdout`))));
  for (const res of downloads.result) {
    t.equal(res.status, 200);
    t.equal(res.bytes, size, `a download is the whole log (${mib(res.bytes)})`);
  }
  t.ok(downloads.bytes < BUDGET, `8 whole downloads of a 200 MB log cost ${mib(downloads.bytes)}`);
});
