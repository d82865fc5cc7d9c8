// pm2, the reference for starts and memory, driven through its programmatic API
// (connect/start/delete/killDaemon). pm2 is AGPL: it is never a dependency of sessiond. The bench
// installs a pinned version on demand into bench/.pm2-cache (git-ignored) with npm, and runs its
// daemon with a PM2_HOME of its own under the bench's temp folder, killed at the end.
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanup, withTimeout } from './lib.js';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The source tree's bench/ folder (this file runs from dist/bench/). */
const CACHE = path.resolve(here, '../../bench/.pm2-cache');
export const PM2_VERSION = '7.0.4';
const INSTALL_TIMEOUT_MS = 180_000;

/** The part of pm2's API the bench uses (callback style, as pm2 exports it). */
interface Pm2Api {
  connect(cb: (err?: Error | null) => void): void;
  start(options: Record<string, unknown>, cb: (err?: Error | null) => void): void;
  delete(name: string, cb: (err?: Error | null) => void): void;
  killDaemon(cb: (err?: Error | null) => void): void;
  disconnect(): void;
}

export interface Pm2 {
  version: string;
  home: string;
  /** pm2 start <command> -- <args>, no interpreter, no restart; resolves when pm2 has started it. */
  start(name: string, command: string, args: string[]): Promise<void>;
  deleteAll(): Promise<void>;
  /** The pid of pm2's daemon (PM2_HOME/pm2.pid). */
  daemonPid(): Promise<number>;
}

async function installedVersion(): Promise<string | null> {
  const text = await fs.readFile(path.join(CACHE, 'node_modules', 'pm2', 'package.json'), 'utf8').catch(() => null);
  return text === null ? null : ((JSON.parse(text) as { version?: string }).version ?? null);
}

async function install(): Promise<void> {
  await fs.mkdir(CACHE, { recursive: true });
  const npm = spawn('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', CACHE, `pm2@${PM2_VERSION}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  npm.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await withTimeout(
    new Promise<number | null>((resolve, reject) => {
      npm.once('error', reject);
      npm.once('exit', resolve);
    }),
    INSTALL_TIMEOUT_MS,
    'npm install pm2',
  ).catch((err: unknown) => {
    npm.kill('SIGKILL');
    throw err;
  });
  if (code !== 0) throw new Error(`npm install pm2@${PM2_VERSION} exited with ${code}: ${stderr.trim().split('\n').slice(-3).join(' ')}`);
}

let loaded: Promise<Pm2> | null = null;

/**
 * pm2, connected to a daemon of its own under `base`; the reason as an Error when it cannot be
 * had (no registry, say). Loaded once per run; the daemon is killed by the bench's cleanup.
 */
export function pm2(base: string): Promise<Pm2> {
  loaded ??= load(base);
  return loaded;
}

async function load(base: string): Promise<Pm2> {
  if ((await installedVersion()) !== PM2_VERSION) await install();
  const home = path.join(base, 'pm2-home');
  await fs.mkdir(home, { recursive: true });
  // pm2 reads PM2_HOME when it is first required: set before, and never the user's own ~/.pm2.
  process.env.PM2_HOME = home;
  const api = createRequire(path.join(CACHE, 'package.json'))('pm2') as Pm2Api;
  const call = (what: string, fn: (cb: (err?: Error | null) => void) => void) =>
    withTimeout(
      new Promise<void>((resolve, reject) => fn((err) => (err ? reject(err instanceof Error ? err : new Error(`${what}: ${JSON.stringify(err)}`)) : resolve()))),
      30_000,
      `pm2 ${what}`,
    );
  await call('connect', (cb) => api.connect(cb));
  cleanup.unshift(async () => {
    await call('killDaemon', (cb) => api.killDaemon(cb)).catch(() => undefined);
    api.disconnect();
  });
  let started = 0;
  return {
    version: PM2_VERSION,
    home,
    start: (name, command, args) => call('start', (cb) => api.start({ name, script: command, args, interpreter: 'none', autorestart: false, exec_mode: 'fork' }, cb)).then(() => void started++),
    deleteAll: async () => {
      if (started === 0) return;
      await call('delete all', (cb) => api.delete('all', cb));
      started = 0;
    },
    daemonPid: async () => Number((await fs.readFile(path.join(home, 'pm2.pid'), 'utf8')).trim()),
  };
}
