// sessiond bench (`npm run bench`): one table, every row a sessiond figure beside a reference
// measured in the same run on the same machine, and their ratio. Sections (each in its own file)
// return rows; `node dist/bench/run.js starts memory` runs only the sections named.
// Figures, not assertions: a failing section becomes a row saying so (and exit code 1); the rest
// still run. Cleans up its folders, servers, sessions and pm2's daemon, also on Ctrl-C.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventsFanout } from './events-fanout.js';
import { followersBench } from './followers.js';
import { getSession } from './get-session.js';
import { liveLatency } from './latency.js';
import { cleanup, fmt, msSince, now, printRows, runCleanup, scopedSessiond, type Row, type SessiondOptions } from './lib.js';
import { liveMemory } from './live-memory.js';
import { logIndex } from './log-index.js';
import { pm2 } from './pm2.js';
import { replayThroughput } from './replay.js';
import { scale } from './scale.js';
import { starts } from './starts.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const SERVER_JS = path.resolve(here, '../src/server.js');

interface Context {
  base: string;
  root: string;
  /** Server options with a data folder of the section's own. */
  options(name: string): Promise<SessiondOptions>;
}

type Section = (ctx: Context) => Promise<Row[]>;

/** pm2, or why not, as a value: its rows then say "pm2 not available". */
const pm2OrWhy = (base: string) => pm2(base).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));

const SECTIONS: Record<string, Section> = {
  get: async (ctx) => withServer(ctx, 'get', (sd) => getSession(sd, ctx.root, ctx.base)),
  latency: async (ctx) => withServer(ctx, 'latency', (sd) => liveLatency(sd, ctx.root)),
  replay: async (ctx) => withServer(ctx, 'replay', (sd) => replayThroughput(sd, ctx.root)),
  index: async (ctx) => withServer(ctx, 'index', (sd) => logIndex(sd, ctx.root)),
  followers: async () => {
    const fol = await followersBench();
    return [
      {
        what: `${fol.followers} SSE followers of a ${fmt(fol.logBytes / 1e6, 0)} MB session (MiB RSS growth, peak)`,
        sessiond: fmt(fol.peakRssDeltaMiB, 1),
        reference: `${fmt(fol.baselineRssMiB, 0)} (the same server's RSS before)`,
        ratio: fol.peakRssDeltaMiB / Math.max(fol.baselineRssMiB, 1),
        goal: '<= 100 MiB',
      },
    ];
  },
  events: async () => {
    const fan = await eventsFanout();
    return [
      {
        what: `events fan-out, ${fan.subscribers} subscribers x ${fan.events} events (MiB RSS growth)`,
        sessiond: fmt(fan.rssDeltaMiB, 1),
        reference: `${fmt(fan.referenceRssDeltaMiB, 1)} (bare node:http, idle open responses)`,
        ratio: fan.rssDeltaMiB / Math.max(fan.referenceRssDeltaMiB, 0.1),
        goal: '<= 50 MiB',
      },
    ];
  },
  // Before `starts`, so pm2's daemon is fresh when its memory is read.
  memory: async (ctx) => liveMemory(await ctx.options('memory'), ctx.base, await pm2OrWhy(ctx.base)),
  starts: async (ctx) => withServer(ctx, 'starts', async (sd) => starts(sd, ctx.root, await pm2OrWhy(ctx.base))),
  scale: async (ctx) => scale(await ctx.options('scale'), ctx.base),
};

async function withServer(ctx: Context, name: string, run: (sd: Awaited<ReturnType<typeof scopedSessiond>>) => Promise<Row[]>): Promise<Row[]> {
  const sd = await scopedSessiond(await ctx.options(name));
  try {
    return await run(sd);
  } finally {
    await sd.close();
  }
}

async function main(): Promise<void> {
  const started = now();
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((name) => !(name in SECTIONS));
  if (unknown.length > 0) throw new Error(`unknown section(s) ${unknown.join(', ')}; known: ${Object.keys(SECTIONS).join(', ')}`);
  const base = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'sessiond-bench-')));
  cleanup.push(() => fs.rm(base, { recursive: true, force: true }));
  const root = path.join(base, 'root');
  await fs.mkdir(root);
  const ctx: Context = {
    base,
    root,
    options: async (name) => {
      const dataDir = path.join(base, `data-${name}`);
      await fs.mkdir(dataDir, { recursive: true });
      // `sleep` for starts and live sessions; a high cap, so bursts never queue.
      return { serverJs: SERVER_JS, dataDir, root, allowed: ['bash', 'sleep', process.execPath], env: { SESSIOND_MAX_RUNNING: '1000' } };
    },
  };

  const cpus = os.cpus();
  console.log(`sessiond bench: node ${process.version}, ${os.platform()} ${os.arch()}, ${cpus.length} cores (${cpus[0]?.model ?? '?'}), load ${os.loadavg().map((l) => fmt(l, 1)).join(' ')}`);
  console.log('server: node dist/src/server.js in its own process per section, log level warn; clients: node:http in this process');
  const rows: Row[] = [];
  for (const [name, section] of Object.entries(SECTIONS)) {
    if (wanted.length > 0 && !wanted.includes(name)) continue;
    const t0 = now();
    process.stderr.write(`${name}...\n`);
    try {
      rows.push(...(await section(ctx)));
    } catch (err) {
      process.exitCode = 1;
      const message = err instanceof Error ? err.message : String(err);
      console.error(`${name} failed:`, err instanceof Error ? (err.stack ?? message) : message);
      rows.push({ what: `${name}: FAILED`, sessiond: message.split('\n')[0]?.slice(0, 100) ?? '', reference: '', ratio: Number.NaN, goal: '' });
    }
    process.stderr.write(`${name}: ${fmt(msSince(t0) / 1000, 1)} s\n`);
  }
  console.log(`\nratio = sessiond / reference (rates: higher is better; times and sizes: lower is better)\n`);
  console.log(printRows(rows));
  console.log(`\ntotal ${fmt(msSince(started) / 1000, 1)} s`);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void runCleanup().finally(() => process.exit(130));
  });
}

main()
  .then(runCleanup)
  .catch(async (err: unknown) => {
    console.error('bench failed:', err instanceof Error ? (err.stack ?? err.message) : err);
    await runCleanup();
    process.exitCode = 1;
  })
  // pm2's client keeps handles open after disconnect: leave once everything is cleaned up.
  .finally(() => process.stdout.write('', () => process.exit()));
