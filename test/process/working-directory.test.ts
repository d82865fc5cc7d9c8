// The working directory is checked where the process starts: the keeper changes into it,
// resolves where it landed, and refuses to start the command outside the workspace roots. The
// attack: a folder flipped between a real directory and a symlink to an outside folder every
// 2 ms while sessions start; a check made before the start (by path) is raced, this one is not.
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import t, { type Test } from 'tap';
import { LaunchError } from '../../src/process/adapter.js';
import { ended, fixture, type Fixture } from './fixture.js';
import { FLIPPER, PWD } from '../flipper.js';

const LAUNCHES = 30;

interface Layout {
  root: string;
  outside: string;
}

async function layout(f: Fixture): Promise<Layout> {
  const root = path.join(f.dir, 'root');
  const outside = path.join(f.dir, 'outside');
  await fs.mkdir(root);
  await fs.mkdir(outside);
  return { root, outside };
}

/** Runs the flipper for the duration of `during`; returns how often it flipped. */
async function flipping(t: Test, f: Fixture, where: Layout, during: () => Promise<void>): Promise<number> {
  const script = path.join(f.dir, 'flipper.cjs');
  await fs.writeFile(script, FLIPPER);
  const flipper = spawn(process.execPath, [script, where.root, where.outside], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    flipper.kill('SIGKILL');
  });
  let out = '';
  flipper.stdout.setEncoding('utf8');
  const ready = new Promise<void>((resolve) =>
    flipper.stdout.on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('ready\n')) resolve();
    }),
  );
  const exited = new Promise<void>((resolve) => flipper.on('exit', () => resolve()));
  await ready;
  await during();
  flipper.kill('SIGTERM');
  await exited;
  return Number(/flips (\d+)/.exec(out)?.[1] ?? 0);
}

/** Starts LAUNCHES sessions running `pwd -P` in <root>/x at once; where each ran, or why it did not. */
async function race(f: Fixture, where: Layout): Promise<{ ranIn: string[]; refusedOutside: number; otherFailures: string[] }> {
  const cwd = path.join(where.root, 'x');
  const results = await Promise.allSettled(
    Array.from({ length: LAUNCHES }, async () => {
      const spec = f.spec('bash', ['-c', PWD], { cwd });
      const handle = await f.adapter.launch(spec);
      await ended(f.adapter, handle);
      return (await fs.readFile(spec.stdoutPath, 'utf8')).trim();
    }),
  );
  const ranIn: string[] = [];
  let refusedOutside = 0;
  const otherFailures: string[] = [];
  for (const result of results) {
    if (result.status === 'fulfilled') ranIn.push(result.value);
    else if (result.reason instanceof LaunchError && /outside the workspace roots/.test(result.reason.message)) refusedOutside++;
    else if (result.reason instanceof LaunchError) otherFailures.push(result.reason.message);
    else throw result.reason;
  }
  return { ranIn, refusedOutside, otherFailures };
}

const isInside = (dir: string, root: string) => dir === root || dir.startsWith(`${root}/`);

t.test(`${LAUNCHES} sessions started while their folder flips to a symlink every 2 ms: none runs outside the roots`, async (t) => {
  const probe = await fixture(t);
  const where = await layout(probe);
  const f = await fixture(t, { workspaceRoots: [where.root] });
  // Rounds until some start lands on the link (a loaded machine may hold the flipper still
  // through a whole round of quick starts); every round must keep every session inside.
  const outcome = { ranIn: [] as string[], refusedOutside: 0, otherFailures: [] as string[] };
  const flips = await flipping(t, probe, where, async () => {
    for (let round = 0; round < 10 && outcome.refusedOutside === 0; round++) {
      const next = await race(f, where);
      outcome.ranIn.push(...next.ranIn);
      outcome.refusedOutside += next.refusedOutside;
      outcome.otherFailures.push(...next.otherFailures);
    }
  });
  t.comment(`flips: ${flips}; ran: ${outcome.ranIn.length}; refused (outside): ${outcome.refusedOutside}; other failures: ${outcome.otherFailures.length}`);
  // Starts take a few ms each, so a round may be over within a dozen flips: flips while they ran
  // (and starts that both ran and were refused, below) show the race was live.
  t.ok(flips > 2, 'the folder flipped while the starts ran');
  const outside = outcome.ranIn.filter((dir) => !isInside(dir, where.root));
  t.same(outside, [], 'no session ran outside the roots (pwd -P)');
  t.ok(outcome.refusedOutside > 0, 'the race was hit: some starts found the symlink, and were refused');
  for (const message of outcome.otherFailures) t.match(message, /working directory|ENOENT/, 'other failures are a missing folder (mid-flip)');
});

t.test('without the roots given to the keeper (a check made earlier, by path), the same race runs sessions outside', async (t) => {
  const probe = await fixture(t);
  const where = await layout(probe);
  const f = await fixture(t);
  // Rounds until one lands on the link: a loaded machine may hold the flipper still through a
  // whole round of quick starts (each round is ~30 fair draws otherwise).
  const outside: string[] = [];
  let ran = 0;
  await flipping(t, probe, where, async () => {
    for (let round = 0; round < 10 && outside.length === 0; round++) {
      const outcome = await race(f, where);
      ran += outcome.ranIn.length;
      outside.push(...outcome.ranIn.filter((dir) => !isInside(dir, where.root)));
    }
  });
  t.comment(`ran outside: ${outside.length} of ${ran}`);
  t.ok(outside.length > 0, 'the attack is real: some ran in the outside folder');
});

t.test('a working directory that is a symlink out of the roots is refused with a clear reason', async (t) => {
  const f0 = await fixture(t);
  const where = await layout(f0);
  const f = await fixture(t, { workspaceRoots: [where.root] });
  await fs.symlink(where.outside, path.join(where.root, 'out'));
  const err = await f.adapter.launch(f.spec('bash', ['-c', PWD], { cwd: path.join(where.root, 'out') })).catch((e: unknown) => e);
  t.ok(err instanceof LaunchError);
  t.match((err as Error).message, /^the working directory resolved outside the workspace roots when the process was started/);
  t.notMatch((err as Error).message, where.outside, 'the reason does not name the outside folder');
});

t.test('inside the roots, symlinks are fine: the command runs where they lead, and a root given as a symlink counts', async (t) => {
  const f0 = await fixture(t);
  const where = await layout(f0);
  await fs.mkdir(path.join(where.root, 'real'));
  await fs.symlink(path.join(where.root, 'real'), path.join(where.root, 'alias'));
  const rootAlias = path.join(f0.dir, 'root-alias');
  await fs.symlink(where.root, rootAlias);
  const f = await fixture(t, { workspaceRoots: [rootAlias] });
  const spec = f.spec('bash', ['-c', PWD], { cwd: path.join(rootAlias, 'alias') });
  const handle = await f.adapter.launch(spec);
  t.match(await ended(f.adapter, handle), { exit_code: 0 });
  t.equal((await fs.readFile(spec.stdoutPath, 'utf8')).trim(), path.join(where.root, 'real'));
});
