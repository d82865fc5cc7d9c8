// What package.json and package-lock.json promise (issue 14, points 3 and 7): `npm ci` on Node 20
// prints no EBADENGINE warning, because no locked or installed package declares an engines range
// that leaves out this Node (npm's own check: semver.satisfies with prereleases included); and
// `npm start` stays the server entry, which the Dockerfile's CMD runs.
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { TEST_TOKENS, tempDir } from './helper.js';
import { SERVER_NODE_FLAGS } from '../src/node-flags.js';

const ROOT = process.cwd();
const run = promisify(execFile);

// semver is in node_modules through fastify; it has no types here, so only what is used is typed.
interface Semver {
  satisfies(version: string, range: string, options?: { includePrerelease?: boolean }): boolean;
  minVersion(range: string): { version: string } | null;
  validRange(range: string): string | null;
}
const semver = createRequire(import.meta.url)('semver') as Semver;

type Json = Record<string, any>;
const readJson = (file: string): Json => JSON.parse(readFileSync(file, 'utf8')) as Json;

interface Declared {
  where: string;
  node?: string;
  npm?: string;
}

/**
 * Every engines declaration of the lock file (optional packages of other platforms included: a
 * machine of that platform installs them), and of each locked package installed on disk.
 */
function declaredEngines(): Declared[] {
  const lock = readJson(path.join(ROOT, 'package-lock.json'));
  const out: Declared[] = [];
  for (const [key, entry] of Object.entries(lock.packages as Record<string, Json>)) {
    if (key === '') continue; // the project itself: checked apart
    if (entry.engines && typeof entry.engines === 'object') out.push({ where: `package-lock.json ${key}`, node: entry.engines.node, npm: entry.engines.npm });
    const installed = path.join(ROOT, key, 'package.json');
    if (existsSync(installed)) {
      const engines = readJson(installed).engines;
      // An array is the legacy form npm ignores.
      if (engines && typeof engines === 'object' && !Array.isArray(engines)) out.push({ where: `${key}/package.json`, node: engines.node, npm: engines.npm });
    }
  }
  return out;
}

/** The ones npm would warn about for this Node and npm (npm-install-checks' checkEngine). */
function misfits(declared: Declared[], node: string, npm: string | null): string[] {
  const options = { includePrerelease: true };
  return declared.flatMap((d) => {
    const bad: string[] = [];
    if (typeof d.node === 'string' && !semver.satisfies(node, d.node, options)) bad.push(`${d.where}: node ${d.node}`);
    if (npm && typeof d.npm === 'string' && !semver.satisfies(npm, d.npm, options)) bad.push(`${d.where}: npm ${d.npm}`);
    return bad;
  });
}

t.test('no locked or installed package declares an engines range that leaves out Node 20', async (t) => {
  const pkg = readJson(path.join(ROOT, 'package.json'));
  const range = pkg.engines?.node as string;
  t.ok(semver.validRange(range), `package.json engines.node is a range (${range})`);
  const lowest = semver.minVersion(range)?.version ?? '';
  t.match(lowest, /^20\./, 'the lowest Node the project supports is a Node 20');

  const declared = declaredEngines();
  t.ok(declared.length > 50, `the lock file and node_modules were read (${declared.length} engines declarations)`);
  const npmVersion = (await run('npm', ['--version'], { timeout: 30_000 })).stdout.trim();
  t.same(misfits(declared, process.version, npmVersion), [], `none excludes this Node (${process.version}) or its npm (${npmVersion})`);
  t.same(misfits(declared, lowest, null), [], `none excludes the lowest Node package.json allows (${lowest})`);
  if (process.version.startsWith('v20.')) t.ok(semver.satisfies(process.version, range), 'this Node 20 is one package.json allows');

  // The check itself catches what the issue saw: content-disposition@3 and cookie@2 ask for Node >= 22.
  const seen = [{ where: 'content-disposition@3', node: '>=22' }, { where: 'cookie@2', node: '>= 22' }];
  t.same(misfits(seen, '20.19.0', null), ['content-disposition@3: node >=22', 'cookie@2: node >= 22'], 'a dependency asking for Node 22 fails it');
});

t.test('npm start runs the server entry, and the Dockerfile runs npm start', async (t) => {
  const pkg = readJson(path.join(ROOT, 'package.json'));
  t.equal(pkg.scripts.start, `node ${SERVER_NODE_FLAGS.join(' ')} dist/src/server.js`, 'npm start stays `node dist/src/server.js`, with the flags of src/node-flags.ts');
  t.ok(existsSync(path.join(ROOT, 'src/server.ts')), 'built from src/server.ts');
  t.ok(existsSync(path.join(ROOT, 'dist/src/server.js')), 'which the build puts at dist/src/server.js');
  t.notOk(pkg.scripts.start.includes('cli'), 'not the sessiond command (that is the bin)');

  const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  const cmds = [...dockerfile.matchAll(/^CMD (.+)$/gm)].map((m) => m[1]);
  const runtime = dockerfile.split(/^FROM /m).at(-1) ?? '';
  t.equal(cmds.at(-1), '["npm", "start"]', 'the image’s CMD is npm start');
  t.match(runtime, /^CMD \["npm", "start"\]$/m, 'in the runtime stage');
  t.notOk(/^ENTRYPOINT /m.test(runtime), 'with no ENTRYPOINT in front of it');

  // And it does start the service: npm start in a fresh data dir answers /healthz.
  const data = await tempDir(t, 'sessiond-npm-start-data-');
  const root = await tempDir(t, 'sessiond-npm-start-root-');
  const child = spawn('npm', ['start', '--silent'], {
    cwd: ROOT,
    detached: true, // its own process group: npm, its shell and node go together at the end
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? root,
      SESSIOND_HOST: '127.0.0.1',
      SESSIOND_PORT: '0',
      SESSIOND_DATA_DIR: data,
      SESSIOND_WORKSPACE_ROOTS: root,
      SESSIOND_TOKENS: `${TEST_TOKENS.write}:write,${TEST_TOKENS.read}:read`,
      SESSIOND_LOG_LEVEL: 'info',
    },
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start did not listen within 60 s:\n${output}`)), 60_000);
    const look = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1] as string);
      }
    };
    child.stdout.on('data', look);
    child.stderr.on('data', look);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`npm start exited (${code}) before listening:\n${output}`));
    });
  });
  const health = await fetch(`${url}/healthz`);
  t.equal(health.status, 200, 'npm start serves the API (/healthz answers)');
  const sessions = await fetch(`${url}/v1/sessions`, { headers: { authorization: `Bearer ${TEST_TOKENS.read}` } });
  t.equal(sessions.status, 200, 'and /v1/sessions');
  if (child.pid) process.kill(-child.pid, 'SIGTERM');
  await exited;
  t.pass('and stops on SIGTERM');
});
