// The `sessiond` command against a real service over a real socket (issue 14, point 3): start,
// ls (table, JSON, filters), get, logs (raw, both streams, colours), stop, rm, and clear errors.
import t from 'tap';
import { TEST_TOKENS } from '../helper.js';
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

  // This service records when each line was written: --timestamps prefixes each with its time.
  const stamped = await cli('logs', id, '--timestamps');
  t.equal(stamped.code, 0, 'logs --timestamps');
  t.match(stamped.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z out\n$/, 'each line with the RFC 3339 time it was written');

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
});
