// Bench section: starts. The same command (`sleep 60`) started by sessiond (POST /v1/sessions,
// answered once the process is confirmed running), by pm2 (its programmatic start, answered once
// its daemon has started it) and by a bare spawn (until Node's 'spawn' event): the p50 of one at a
// time, alternating sessiond and pm2; then a burst of BURST starts with IN_FLIGHT at once, as
// throughput.
import { spawn } from 'node:child_process';
import { fmt, median, msSince, now, percentile, pool, stopAll, type Row, type Sessiond } from './lib.js';
import type { Pm2 } from './pm2.js';

const SEQUENTIAL = 40;
const WARM_UP = 3;
const BURST = 60;
const IN_FLIGHT = 8;
const ROUNDS = 4;
const COMMAND = 'sleep';
const ARGS = ['60'];

const p50 = (values: number[]) => percentile([...values].sort((a, b) => a - b), 50);

async function bareSpawn(): Promise<number> {
  const start = now();
  const child = spawn(COMMAND, ARGS, { stdio: 'ignore', detached: true });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  const ms = msSince(start);
  child.kill('SIGKILL');
  return ms;
}

export async function starts(sd: Sessiond, root: string, pm2: Pm2 | Error): Promise<Row[]> {
  let n = 0;
  const sessiondStart = async () => {
    const start = now();
    await sd.json('POST', '/v1/sessions', { name: `start ${n++}`, working_directory: root, command: COMMAND, args: ARGS });
    return msSince(start);
  };
  const pm2Start = async (p: Pm2) => {
    const start = now();
    await p.start(`start-${n++}`, COMMAND, ARGS);
    return msSince(start);
  };

  // One at a time.
  const ours: number[] = [];
  const theirs: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < WARM_UP + SEQUENTIAL; i++) {
    const a = await sessiondStart();
    const b = pm2 instanceof Error ? Number.NaN : await pm2Start(pm2);
    const c = await bareSpawn();
    if (i < WARM_UP) continue;
    ours.push(a);
    theirs.push(b);
    bare.push(c);
  }
  await stopAll(sd);
  if (!(pm2 instanceof Error)) await pm2.deleteAll();

  // Bursts, alternating which goes first.
  const burst = async (one: () => Promise<unknown>) => {
    const start = now();
    await pool(BURST, IN_FLIGHT, async () => void (await one()));
    return BURST / (msSince(start) / 1000);
  };
  const oursBurst: number[] = [];
  const theirsBurst: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const runOurs = async () => {
      oursBurst.push(await burst(sessiondStart));
      await stopAll(sd);
    };
    const runTheirs = async () => {
      if (pm2 instanceof Error) return;
      theirsBurst.push(await burst(() => pm2Start(pm2)));
      await pm2.deleteAll();
    };
    if (round % 2 === 0) {
      await runOurs();
      await runTheirs();
    } else {
      await runTheirs();
      await runOurs();
    }
  }

  const absent = pm2 instanceof Error ? `pm2 not available (${pm2.message.slice(0, 80)})` : null;
  return [
    { what: `start p50 (ms), \`${COMMAND} ${ARGS.join(' ')}\`, one at a time`, sessiond: fmt(p50(ours), 1), reference: absent ?? `${fmt(p50(theirs), 1)} (pm2 ${pm2 instanceof Error ? '' : pm2.version}, programmatic start)`, ratio: p50(ours) / p50(theirs), goal: '<= 1' },
    { what: '  start p50 against a bare spawn (ms)', sessiond: fmt(p50(ours), 1), reference: `${fmt(p50(bare), 2)} (child_process.spawn until 'spawn')`, ratio: p50(ours) / p50(bare), goal: '' },
    { what: `burst of ${BURST} starts, ${IN_FLIGHT} in flight (starts/s)`, sessiond: fmt(median(oursBurst), 1), reference: absent ?? `${fmt(median(theirsBurst), 1)} (pm2)`, ratio: median(oursBurst) / median(theirsBurst), goal: '>= 1' },
  ];
}
