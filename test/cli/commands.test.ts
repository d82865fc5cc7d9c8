// The `sessiond` command against a real service over a real socket (issue 14, point 3): start,
// ls (table, JSON, filters), get, logs (raw and both streams), stop, rm, wait exiting with the
// session's code as docker wait reports it, and the token read from a local service's data dir.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { resolveConnection } from '../../src/cli/settings.js';
import { TEST_TOKENS, tempDir } from '../helper.js';
import { deploy } from '../reliability/server-process.js';
import { runCli } from './cli-process.js';

t.test('start, ls, get, logs, stop, rm', async (t) => {
  const d = await deploy(t);
  await d.start();
  const env = { SESSIOND_URL: d.server.url, SESSIOND_TOKEN: TEST_TOKENS.write, NO_COLOR: '1' };
  const cli = (...args: string[]) => runCli(t, args, env);

  const started = await cli('start', '--name', 'web build', '--cwd', d.root, '--label', 'team=web', '--label', 'tier=ci', '--', 'bash', '-c', 'echo out; echo err >&2; exec sleep 60');
  t.equal(started.code, 0, `start exits 0 ${started.stderr}`);
  const id = started.stdout.trim();
  t.match(id, /^web-build-[a-z0-9]+-[a-z0-9]+$/, 'start prints the new id and nothing else');
  const other = (await cli('start', '--cwd', d.root, 'bash', '-c', 'exit 0')).stdout.trim();
  t.match(other, /^bash-/, 'without --name, the command names it; options end at the command');

  const table = await cli('ls');
  t.equal(table.code, 0);
  const [header, ...rows] = table.stdout.trimEnd().split('\n');
  t.match(header, /^ID\s+NAME\s+STATUS\s+EXIT\s+STARTED\s+LABELS$/, 'a table with a header');
  const row = rows.find((r) => r.startsWith(id));
  t.match(row, /web build\s+running\s+-\s+\d+s ago\s+team=web,tier=ci$/, 'a row per session: name, status, exit, age, labels');

  const json = JSON.parse((await cli('ls', '--json')).stdout) as Array<{ id: string }>;
  t.same(json.map((s) => s.id).sort(), [id, other].sort(), '--json: every session');
  t.equal((await cli('ls', '-q', '--label', 'team=web')).stdout, `${id}\n`, '--label filters (and -q prints ids)');
  t.equal((await cli('ls', '-q', '--label', 'team=web', '--label', 'tier=prod')).stdout, '', 'every label must match');
  t.equal((await cli('ls', '-q', '--status', 'running')).stdout, `${id}\n`, '--status filters');

  const got = await cli('get', id);
  t.equal(got.code, 0);
  t.match(JSON.parse(got.stdout), { id, status: 'running', labels: { team: 'web', tier: 'ci' } }, 'get prints the session as JSON');

  const logs = await cli('logs', id);
  t.equal(logs.stdout, 'out\n', 'logs: stdout, as written');
  t.equal(logs.stderr, '', 'and nothing else');
  t.equal((await cli('logs', id, '--stderr')).stderr, 'err\n', '--stderr: the session’s stderr, on stderr');
  const both = await cli('logs', id, '--both');
  t.equal(both.code, 0, 'logs --both of a live session ends once what is there was printed');
  t.equal(both.stdout, 'out\n');
  t.equal(both.stderr, 'err\n');
  const coloured = await runCli(t, ['logs', id, '--both'], { ...env, NO_COLOR: '', FORCE_COLOR: '1' });
  t.equal(coloured.stderr, '\u001b[31merr\u001b[39m\n', 'stderr lines are red on a terminal (FORCE_COLOR stands in for one)');
  t.equal(coloured.stdout, 'out\n', 'stdout is not coloured');

  const busy = await cli('rm', id);
  t.equal(busy.code, 1, 'rm of a live session is refused');
  t.match(busy.stderr, /session_running, HTTP 409/, 'with the service’s reason');
  const stopped = await cli('stop', id);
  t.equal(stopped.code, 0);
  t.equal(stopped.stdout, `${id}\n`);
  t.match(JSON.parse((await cli('get', id)).stdout), { status: 'stopped', stop_reason: 'requested' });
  t.equal((await cli('rm', id, other)).code, 0, 'rm deletes them');
  const gone = await cli('get', id);
  t.equal(gone.code, 1, 'a session that is not there: exit 1');
  t.match(gone.stderr, new RegExp(`^sessiond: no session with id ${id} \\(session_not_found, HTTP 404\\)\\n$`), 'one clear line');

  const refused = await cli('start', '--name', 'x', '--cwd', d.root, '--', 'python3', '-c', '1');
  t.equal(refused.code, 1, 'a start the service refuses: exit 1');
  t.match(refused.stderr, /command_not_allowed, HTTP 403/);
  const stamped = await cli('logs', other, '--timestamps');
  t.equal(stamped.code, 1, '--timestamps on a service without log timestamps: exit 1');
  t.match(stamped.stderr, /--timestamps is not supported by this server yet/, 'and says so');
});

t.test('wait exits with the session’s exit code, as docker wait reports it', async (t) => {
  const d = await deploy(t);
  await d.start();
  const env = { SESSIOND_URL: d.server.url, SESSIOND_TOKEN: TEST_TOKENS.write };
  const startAndWait = async (script: string) => {
    const id = (await runCli(t, ['start', '--name', 'w', '--cwd', d.root, '--', 'bash', '-c', script], env)).stdout.trim();
    return runCli(t, ['wait', id], env);
  };
  const seven = await startAndWait('sleep 0.3; exit 7');
  t.equal(seven.code, 7, 'exit 7');
  t.equal(seven.stdout, '7\n', 'and prints it');
  const zero = await startAndWait('true');
  t.equal(zero.code, 0);
  const killed = await startAndWait('kill -KILL $$');
  t.equal(killed.code, 137, 'SIGKILL: 128 + 9');
  t.equal(killed.stdout, '137\n');

  const id = (await runCli(t, ['start', '--name', 'slow', '--cwd', d.root, '--', 'bash', '-c', 'exec sleep 30'], env)).stdout.trim();
  const late = await runCli(t, ['wait', id, '--timeout', '300ms'], env);
  t.equal(late.code, 124, '--timeout: 124 while it is still live');
  t.match(late.stderr, /still live after 300ms/);
  t.equal((await runCli(t, ['stop', id, '--grace', '1s'], env)).code, 0);
  const stopped = await runCli(t, ['wait', id], env);
  t.equal(stopped.code, 143, 'a session stopped with SIGTERM: 143');
  const reader = (await runCli(t, ['start', '--name', 'r', '--cwd', d.root, '--', 'bash', '-c', 'sleep 0.5; exit 3'], env)).stdout.trim();
  const readOnly = await runCli(t, ['wait', reader], { ...env, SESSIOND_TOKEN: TEST_TOKENS.read });
  t.equal(readOnly.code, 3, 'with a read token (the wait route is a POST), it reads the session until it ends');
});

t.test('the token: SESSIOND_TOKEN, or the token file of a local service’s data directory', async (t) => {
  // No SESSIOND_TOKENS: the service generates a token into its data directory.
  const d = await deploy(t, { env: { SESSIOND_TOKENS: '' } });
  await d.start();
  const local = await runCli(t, ['ls', '-q'], { SESSIOND_URL: d.server.url, SESSIOND_DATA_DIR: d.dataDir });
  t.equal(local.code, 0, `the data directory’s token file is used ${local.stderr}`);
  const none = await runCli(t, ['ls'], { SESSIOND_URL: d.server.url, SESSIOND_DATA_DIR: path.join(d.root, 'elsewhere') });
  t.equal(none.code, 1, 'no token: exit 1');
  t.match(none.stderr, /unauthorized, HTTP 401/);
  t.match(none.stderr, /set SESSIOND_TOKEN/, 'and it says what to set');
  const wrong = await runCli(t, ['ls'], { SESSIOND_URL: d.server.url, SESSIOND_TOKEN: 'not-the-token-0123456789' });
  t.equal(wrong.code, 1);
  t.match(wrong.stderr, /SESSIOND_TOKEN is not a token this service accepts/, 'a wrong SESSIOND_TOKEN is named as such');
});

t.test('a token file is read only for a service on this machine', async (t) => {
  const dir = await tempDir(t);
  await writeFile(path.join(dir, 'token'), `${'x'.repeat(43)}\n`);
  const local = await resolveConnection({ url: 'http://127.0.0.1:7070', token: null, dataDir: dir, color: 'never' });
  t.equal(local.token, 'x'.repeat(43), 'loopback: the file’s token');
  t.equal(local.tokenFrom, 'token file');
  const remote = await resolveConnection({ url: 'http://192.0.2.1:7070', token: null, dataDir: dir, color: 'never' });
  t.equal(remote.token, null, 'another address: never sent');
  const given = await resolveConnection({ url: 'http://192.0.2.1:7070', token: 'given-token', dataDir: dir, color: 'never' });
  t.equal(given.token, 'given-token', 'SESSIOND_TOKEN wins everywhere');
});
