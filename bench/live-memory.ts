// Bench section: what live sessions cost, and a restart with them.
//  - memory: LIVE sessions of `sleep 600`; the PSS (/proc/<pid>/smaps_rollup) of every helper
//    process sessiond keeps for them (the keeper_pid of each session's run/keeper.json, counted
//    once however many sessions share it), divided by LIVE; against the growth of pm2's daemon
//    PSS per process for the same LIVE processes.
//  - restart: sessiond stopped (SIGTERM; the sessions go on) and started again on the same data:
//    the time from spawning the server to its first answered list, with LIVE sessions to adopt,
//    against the same start on an empty data folder (the fixed cost of booting the service).
import fs from 'node:fs/promises';
import path from 'node:path';
import { children, cleanup, fmt, median, pool, pssKiB, sleep, startSessiond, stopAll, type Row, type Sessiond, type SessiondOptions } from './lib.js';
import type { Pm2 } from './pm2.js';

const LIVE = 30;
const RESTARTS = 3;
const SETTLE_MS = 1500;
const MiB = 1024;

async function keeperPids(sd: Sessiond, ids: string[]): Promise<Set<number>> {
  const pids = new Set<number>();
  for (const id of ids) {
    const text = await fs.readFile(path.join(sd.dataDir, 'sessions', id, 'run', 'keeper.json'), 'utf8').catch(() => null);
    const pid = text === null ? Number.NaN : Number((JSON.parse(text) as { keeper_pid?: unknown }).keeper_pid);
    if (Number.isSafeInteger(pid) && pid > 0) pids.add(pid);
  }
  return pids;
}

export async function liveMemory(options: SessiondOptions, base: string, pm2: Pm2 | Error): Promise<Row[]> {
  const track = (sd: Sessiond) => {
    children.add(sd.child);
    return sd;
  };
  let sd = track(await startSessiond(options));
  // The sessions are stopped through whichever server runs last, at the end or on a failure.
  let finished = false;
  const finish = async () => {
    if (finished) return;
    finished = true;
    await stopAll(sd);
    await sd.stop();
    children.delete(sd.child);
  };
  cleanup.unshift(finish);
  const ids: string[] = [];
  await pool(LIVE, 8, async (i) => {
    const session = await sd.json('POST', '/v1/sessions', { name: `live ${i}`, working_directory: options.root, command: 'sleep', args: ['600'] });
    ids.push(session.id as string);
  });
  await sleep(SETTLE_MS);
  const pids = await keeperPids(sd, ids);
  let pss = 0;
  for (const pid of pids) pss += await pssKiB(pid);
  const perSession = pss / LIVE / MiB;

  let pm2Row: { per: number; note: string } | null = null;
  if (!(pm2 instanceof Error)) {
    await pm2.deleteAll();
    await sleep(SETTLE_MS);
    const daemon = await pm2.daemonPid();
    const before = await pssKiB(daemon);
    for (let i = 0; i < LIVE; i++) await pm2.start(`live-${i}`, 'sleep', ['600']);
    await sleep(SETTLE_MS);
    const after = await pssKiB(daemon);
    await pm2.deleteAll();
    pm2Row = { per: (after - before) / LIVE / MiB, note: `pm2 daemon ${fmt(before / MiB, 1)} -> ${fmt(after / MiB, 1)} MiB PSS` };
  }

  // Restarts: with the live sessions, and on an empty data folder, alternating.
  const withLive: number[] = [];
  const empty: number[] = [];
  let adopted = 0;
  for (let i = 0; i < RESTARTS; i++) {
    await sd.stop();
    children.delete(sd.child);
    sd = track(await startSessiond(options));
    withLive.push(sd.readyMs);
    const running = await sd.json('GET', `/v1/sessions?status=running&limit=${LIVE}`);
    adopted = (running.items as unknown[]).length;
    const fresh = path.join(base, `empty-${i}`);
    await fs.mkdir(fresh);
    const blank = await startSessiond({ ...options, dataDir: fresh });
    children.add(blank.child);
    empty.push(blank.readyMs);
    await blank.stop();
    children.delete(blank.child);
  }

  await finish();

  const helpers = `${pids.size} helper process${pids.size === 1 ? '' : 'es'}`;
  return [
    {
      what: `memory per live session (MiB PSS), ${LIVE} live`,
      sessiond: `${fmt(perSession)} (${helpers}, ${fmt(pss / MiB, 1)} MiB)`,
      reference: pm2Row ? `${fmt(pm2Row.per)} (${pm2Row.note})` : `pm2 not available (${(pm2 as Error).message.slice(0, 80)})`,
      ratio: pm2Row ? perSession / Math.max(pm2Row.per, 0.01) : Number.NaN,
      goal: '<= 2 MiB',
    },
    {
      what: `restart with ${LIVE} live sessions: spawn to first list (ms)`,
      sessiond: `${fmt(median(withLive), 0)} (${adopted}/${LIVE} running after)`,
      reference: `${fmt(median(empty), 0)} (the same start, empty data folder)`,
      ratio: median(withLive) / median(empty),
      goal: '<= 3000 ms',
    },
  ];
}
