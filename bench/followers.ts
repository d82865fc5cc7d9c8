// Bench: what many SSE followers of one big session cost the server. The real server
// (dist/src/server.js, its own process) runs a session that writes about 20 MB to stdout and
// stays alive; then 300 clients follow its log from the start (`/logs/stream?from=start`), each
// replaying the 20 MB and staying connected for what comes next. The figure is the growth of
// the server's RSS (/proc/<pid>/status VmRSS) over its RSS before the first follower: the
// highest seen while they replay, and once every one has caught up. Goal: at most 100 MiB.
//
//   node dist/bench/followers.js [followers] [MB]     prints the figures
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { msSince, now, startSessiond } from './lib.js';

const THIS_FILE = fileURLToPath(import.meta.url);
const SERVER_JS = path.resolve(path.dirname(THIS_FILE), '../src/server.js');
const MiB = 1024 * 1024;

export interface FollowersOptions {
  followers?: number;
  /** Random bytes the session base64-encodes (the log is 4/3 of it, plus line ends). */
  megabytes?: number;
  timeoutMs?: number;
}

export interface FollowersResult {
  followers: number;
  /** Bytes of the followed stdout log. */
  logBytes: number;
  baselineRssMiB: number;
  /** Highest RSS growth seen while the followers replayed. */
  peakRssDeltaMiB: number;
  /** RSS growth once every follower had caught up (all still connected). */
  settledRssDeltaMiB: number;
  /** From the first connection to the last follower caught up. */
  catchUpMs: number;
}

async function rssOf(pid: number): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb * 1024;
}

/** One follower: resolves once an event id names `size` as its stdout offset (it has the whole log). */
function follow(url: string, token: string, size: number, sockets: http.ClientRequest[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`follower answered ${res.statusCode}`));
      const want = Buffer.from(`\nid: ${size}-`);
      let carry = Buffer.alloc(0);
      res.on('data', (chunk: Buffer) => {
        // Only the end of the previous chunk is kept: an id split across two chunks is still seen.
        const seen = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
        if (seen.includes(want)) resolve();
        carry = Buffer.from(seen.subarray(Math.max(0, seen.length - want.length)));
      });
      res.on('error', reject);
      res.on('end', () => reject(new Error('a follower was closed before it caught up')));
    });
    req.on('error', reject);
    sockets.push(req);
  });
}

export async function followersBench(options: FollowersOptions = {}): Promise<FollowersResult> {
  const followers = options.followers ?? 300;
  const megabytes = options.megabytes ?? 15;
  const base = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'sessiond-followers-')));
  const root = path.join(base, 'root');
  const dataDir = path.join(base, 'data');
  await fs.mkdir(root);
  await fs.mkdir(dataDir);
  const sd = await startSessiond({ serverJs: SERVER_JS, dataDir, root, allowed: ['bash'] });
  const sockets: http.ClientRequest[] = [];
  try {
    const bytes = megabytes * 1_000_000;
    const chars = Math.ceil(bytes / 3) * 4;
    const logBytes = chars + Math.ceil(chars / 120);
    const session = await sd.json('POST', '/v1/sessions', {
      name: 'followed',
      working_directory: root,
      command: 'bash',
      args: ['-c', `head -c ${bytes} /dev/urandom | base64 -w 120; exec sleep 600`],
    });
    const deadline = Date.now() + (options.timeoutMs ?? 300_000);
    for (;;) {
      const tail = await sd.json('GET', `/v1/sessions/${session.id}/logs?tail_bytes=0`);
      if (tail.stdout_bytes >= logBytes) break;
      if (Date.now() > deadline) throw new Error('the followed session did not write its log in time');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const pid = sd.child.pid as number;
    const baseline = await rssOf(pid);
    let peak = baseline;
    const sampler = setInterval(() => {
      void rssOf(pid).then((rss) => (peak = Math.max(peak, rss)), () => undefined);
    }, 50);
    const started = now();
    const url = `${sd.url}/v1/sessions/${session.id}/logs/stream?from=start`;
    try {
      const all = Promise.all(Array.from({ length: followers }, () => follow(url, sd.token, logBytes, sockets)));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([all, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('followers did not catch up in time')), Math.max(0, deadline - Date.now()))))]);
      clearTimeout(timer);
    } finally {
      clearInterval(sampler);
    }
    const catchUpMs = msSince(started);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const settled = await rssOf(pid);
    peak = Math.max(peak, settled);
    await sd.json('POST', `/v1/sessions/${session.id}/stop`, { grace_ms: 0 }).catch(() => undefined);
    return {
      followers,
      logBytes,
      baselineRssMiB: baseline / MiB,
      peakRssDeltaMiB: (peak - baseline) / MiB,
      settledRssDeltaMiB: (settled - baseline) / MiB,
      catchUpMs,
    };
  } finally {
    for (const req of sockets) req.destroy();
    await sd.stop();
    await fs.rm(base, { recursive: true, force: true });
  }
}

if (process.argv[1] === THIS_FILE) {
  const [followers, megabytes] = process.argv.slice(2).map(Number);
  followersBench({ followers: followers || undefined, megabytes: megabytes || undefined }).then(
    (r) => {
      console.log(
        `${r.followers} followers of a ${(r.logBytes / 1e6).toFixed(1)} MB session: server RSS ${r.baselineRssMiB.toFixed(1)} MiB before; ` +
          `growth peak ${r.peakRssDeltaMiB.toFixed(1)} MiB, settled ${r.settledRssDeltaMiB.toFixed(1)} MiB (goal <= 100 MiB); all caught up in ${(r.catchUpMs / 1000).toFixed(1)} s`,
      );
    },
    (err: unknown) => {
      console.error('followers bench failed:', err);
      process.exitCode = 1;
    },
  );
}
