// Kit for the "nothing outside the roots" attacks: an outside file holding a secret, a swapper a
// hostile session runs to flip a path between a regular file and a link to that secret, and a
// check that an answer is the expected problem and carries no byte of the secret.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Test } from 'tap';
import { tempDir } from '../helper.js';
import type { Reply } from '../reliability/server-process.js';

export interface Outside {
  dir: string;
  /** A file outside the workspace roots that the service's user can read. */
  file: string;
  secret: string;
}

/** A folder outside the roots with a secret file the service's user can read. */
export async function outsideSecret(t: Test): Promise<Outside> {
  const dir = await tempDir(t, 'sessiond-outside-');
  const secret = `OUTSIDE-SECRET-${randomBytes(8).toString('hex')}`;
  const file = path.join(dir, 'secret.txt');
  await fs.writeFile(file, `${secret}\n`);
  return { dir, file, secret };
}

/**
 * A Node script a session runs to swap `target` between a link to `secret` and a fresh regular
 * file holding `inside\n`, each swap one atomic rename over the path, about every millisecond
 * (each state is held for 1 ms, so both are seen however busy the machine is), and to count its
 * rounds in `count` (in its working directory) every 100 rounds.
 */
export const SWAPPER = `
const fs = require('node:fs');
const path = require('node:path');
const [secret, target] = process.argv.slice(2);
const dir = path.dirname(target);
const link = path.join(dir, '.swap-link');
const file = path.join(dir, '.swap-file');
const cell = new Int32Array(new SharedArrayBuffer(4));
const hold = () => Atomics.wait(cell, 0, 0, 1);
for (let n = 1; ; n++) {
  fs.rmSync(link, { force: true });
  fs.symlinkSync(secret, link);
  fs.renameSync(link, target);
  hold();
  fs.writeFileSync(file, 'inside\\n');
  fs.renameSync(file, target);
  hold();
  // Written aside and renamed: a reader never sees the file empty between truncate and write.
  if (n % 100 === 0) { fs.writeFileSync('count.tmp', String(n)); fs.renameSync('count.tmp', 'count'); }
}
`;

/** Writes the swapper where sessions can run it; returns the bash line that runs it. */
export async function swapperCommand(t: Test, secretFile: string, target: string): Promise<string> {
  const dir = await tempDir(t, 'sessiond-tools-');
  const script = path.join(dir, 'swapper.cjs');
  await fs.writeFile(script, SWAPPER);
  return `exec ${quote(process.execPath)} ${quote(script)} ${quote(secretFile)} ${target}`;
}

/** Rounds the swapper has done so far (0 before its first report). */
export async function swapRounds(workdir: string): Promise<number> {
  return Number(await fs.readFile(path.join(workdir, 'count'), 'utf8').catch(() => '0')) || 0;
}

export function quote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The reply is problem+json with this status and code, and holds no byte of the secret. */
export function assertRefused(t: Test, reply: Reply, status: number, code: string, secret: string, what: string): void {
  t.equal(reply.status, status, `${what}: ${status}`);
  t.match(String(reply.headers['content-type']), /^application\/problem\+json/, `${what}: problem+json`);
  let body: { code?: unknown } | null = null;
  try {
    body = reply.json();
  } catch {
    // Not JSON at all (the old service sent the file itself): the checks around say so.
  }
  t.equal(body?.code, code, `${what}: ${code}`);
  t.notOk(reply.text.includes(secret), `${what}: nothing of the outside file`);
}

/** Runs `count` calls of `call`, `parallel` at a time, and returns their results in order. */
export async function inParallel<T>(count: number, parallel: number, call: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) {
        const i = next++;
        out[i] = await call(i);
      }
    }),
  );
  return out;
}
