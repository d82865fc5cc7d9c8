// The real service with SESSIOND_RUN_AS and SESSIOND_TOKENS_FILE: a session runs as another user
// and cannot read the service's environment, its data directory or its token file, nor signal
// it. The attack: a session (same user as the service) read SESSIOND_TOKENS from
// /proc/<sessiond>/environ and the generated token file. Run as root, with nobody (65534).
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { canSwitchUser } from '../../src/process/run-as.js';
import { tempDir, TEST_TOKENS } from '../helper.js';
import { mustRun, skipOutsideCi } from '../must-run.js';
import { deploy, readJsonWhenWritten, SERVER_ENTRY } from '../reliability/server-process.js';

const skip = canSwitchUser() ? false : 'this test process cannot switch users (it needs root, or CAP_SETUID and CAP_SETGID)';

/** What a session can reach: one line per attempt. */
const PROBE = (serverPid: number, dataDir: string, tokensFile: string) =>
  [
    'echo "uid $(id -u) gid $(id -g)"',
    `cat /proc/${serverPid}/environ > /dev/null 2>&1 && echo "environ readable" || echo "environ denied"`,
    `ls ${dataDir}/sessions > /dev/null 2>&1 && echo "data readable" || echo "data denied"`,
    `cat ${tokensFile} > /dev/null 2>&1 && echo "tokens readable" || echo "tokens denied"`,
    `kill -0 ${serverPid} 2> /dev/null && echo "can signal the service" || echo "cannot signal the service"`,
    'echo "written to its log"',
  ].join('\n');

async function writeTokensFile(t: Parameters<typeof tempDir>[0], mode = 0o600): Promise<string> {
  const file = path.join(await tempDir(t, 'sessiond-secrets-'), 'tokens');
  await fs.writeFile(file, `${TEST_TOKENS.write}:write\n${TEST_TOKENS.read}:read\n`, { mode });
  await fs.chmod(file, mode);
  return file;
}

t.test('SESSIOND_RUN_AS=nobody and SESSIOND_TOKENS_FILE: the session reaches none of the service’s secrets', { skip }, async (t) => {
  const tokensFile = await writeTokensFile(t);
  const d = await deploy(t, { env: { SESSIOND_TOKENS: '', SESSIOND_TOKENS_FILE: tokensFile, SESSIOND_RUN_AS: 'nobody' } });
  // The workspace is the sessions' to use; the data directory (0700) stays the service's.
  await fs.chmod(d.root, 0o755);
  const server = await d.start();
  const environ = await fs.readFile(`/proc/${server.pid}/environ`, 'utf8');
  t.notMatch(environ, TEST_TOKENS.write, 'no token in the service’s environment');
  t.notMatch(environ, TEST_TOKENS.read);

  const session = await d.run(PROBE(server.pid, d.dataDir, tokensFile));
  const ended = await d.waitEnded(session.id as string);
  t.match(ended, { status: 'exited', exit_code: 0 });
  const out = await fs.readFile(path.join(d.sessionDir(session.id as string), 'stdout.log'), 'utf8');
  t.same(out.trim().split('\n'), [
    'uid 65534 gid 65534',
    'environ denied',
    'data denied',
    'tokens denied',
    'cannot signal the service',
    'written to its log',
  ]);

  // While one runs: the command is nobody's, its keeper stays the service's user.
  const sleeper = await d.run('exec sleep 60');
  const keeper = await readJsonWhenWritten(path.join(d.stateDir(sleeper.id as string), 'keeper.json'));
  const uidOf = async (pid: number) => /^Uid:\s+(\d+)/m.exec(await fs.readFile(`/proc/${pid}/status`, 'utf8'))?.[1];
  t.equal(await uidOf(keeper.pid as number), '65534', 'the session runs as nobody');
  t.equal(await uidOf(keeper.keeper_pid as number), String(process.getuid?.()), 'its keeper as the service’s user');
  const stopped = await d.request('POST', `/v1/sessions/${sleeper.id}/stop`, { body: { grace_ms: 300 } });
  t.equal(stopped.json().status, 'stopped', 'and the service still stops it');
});

t.test('SESSIOND_RUN_AS=nobody and no token configured: the session cannot read the generated <data dir>/token', { skip: skipOutsideCi(skip) }, async (t) => {
  if (!mustRun(t, skip)) return;
  const d = await deploy(t, { env: { SESSIOND_TOKENS: '', SESSIOND_RUN_AS: 'nobody' } });
  await fs.chmod(d.root, 0o755);
  await d.start();
  const tokenFile = path.join(d.dataDir, 'token');
  const token = (await fs.readFile(tokenFile, 'utf8')).trim();
  t.ok(token.length >= 32, 'the service generated its token in <data dir>/token');
  const auth = { authorization: `Bearer ${token}` };

  // The session tries the file by its full path, as one that learnt it from the service would.
  const started = await d.startSession({ args: ['-c', `id -u; cat ${tokenFile}; echo "cat exit $?"`] }, auth);
  t.equal(started.status, 201, `the generated token starts sessions (${started.text.slice(0, 200)})`);
  const id = started.json().id as string;
  const waited = await d.request('POST', `/v1/sessions/${id}/wait`, { body: { timeout_ms: 30_000 }, headers: auth });
  t.match(waited.json(), { status: 'exited', exit_code: 0 }, 'the session ran to its end');
  const stdout = await fs.readFile(path.join(d.sessionDir(id), 'stdout.log'), 'utf8');
  const stderr = await fs.readFile(path.join(d.sessionDir(id), 'stderr.log'), 'utf8');
  t.same(stdout.trim().split('\n'), ['65534', 'cat exit 1'], 'run as nobody, cat failed');
  t.match(stderr, `cat: ${tokenFile}: Permission denied`, 'permission denied');
  t.notOk(stdout.includes(token) || stderr.includes(token), 'the token is in neither of its logs');
});

t.test('without SESSIOND_RUN_AS, a session reads what the service’s user reads (as SECURITY.md says)', async (t) => {
  const d = await deploy(t);
  const server = await d.start();
  const session = await d.run(`tr '\\0' '\\n' < /proc/${server.pid}/environ | grep -c '^SESSIOND_TOKENS='; ls ${d.dataDir}/sessions | wc -l`);
  await d.waitEnded(session.id as string);
  const out = (await fs.readFile(path.join(d.sessionDir(session.id as string), 'stdout.log'), 'utf8')).trim().split('\n');
  t.equal(out[0], '1', 'SESSIOND_TOKENS, from the service’s environment');
  t.ok(Number(out[1]) >= 1, 'the data directory');
});

/** Runs the server with `env` (as `uid`, when given) and returns how it exited and what it said. */
function startRefused(env: Record<string, string>, uid?: number): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    // Through env(1) without NODE_OPTIONS: under tap, every spawn gets tap's coverage hook, which
    // cannot write its report as another user and would change the exit code.
    const child = spawn('env', ['-u', 'NODE_OPTIONS', process.execPath, SERVER_ENTRY], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', SESSIOND_PORT: '0', SESSIOND_LOG_LEVEL: 'info', ...env },
      cwd: '/',
      stdio: ['ignore', 'ignore', 'pipe'],
      ...(uid === undefined ? {} : { uid, gid: uid }),
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

t.test('SESSIOND_RUN_AS in a service that cannot switch users: it refuses to start, saying why', { skip }, async (t) => {
  const dataDir = await tempDir(t, 'sessiond-refused-');
  const { code, stderr } = await startRefused(
    { SESSIOND_DATA_DIR: dataDir, SESSIOND_TOKENS: `${TEST_TOKENS.write}:write`, SESSIOND_RUN_AS: '65534:65534' },
    65534,
  );
  t.equal(code, 2);
  t.match(stderr, /^sessiond: configuration error: SESSIOND_RUN_AS asks sessions to run as 65534:65534, but this service cannot switch users: it must run as root or hold CAP_SETUID and CAP_SETGID/);
  t.same(await fs.readdir(dataDir), [], 'nothing was started or written');
});

t.test('a token file others can read: the service refuses to start, and names no token', async (t) => {
  const tokensFile = await writeTokensFile(t, 0o644);
  const dataDir = await tempDir(t, 'sessiond-refused-');
  const { code, stderr } = await startRefused({ SESSIOND_DATA_DIR: dataDir, SESSIOND_TOKENS_FILE: tokensFile });
  t.equal(code, 2);
  t.match(stderr, `sessiond: configuration error: SESSIOND_TOKENS_FILE: ${tokensFile} has mode 0644, so other users can read or change it; chmod 600 it`);
  t.notMatch(stderr, TEST_TOKENS.write);
});
