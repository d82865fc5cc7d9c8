// `sessiond start --queue` and `--max-runtime` against a real service (issue 14, point 3): past
// SESSIOND_MAX_RUNNING a plain start is refused while --queue gets a queued session that starts
// when a place frees; --max-runtime becomes the session's max_runtime_ms and the service stops it then.
import t from 'tap';
import { eventually, TEST_TOKENS } from '../helper.js';
import { deploy } from '../reliability/server-process.js';
import { runCli } from './cli-process.js';

type Json = Record<string, any>;

t.test('start --queue past the limit gives a queued session that starts when a place frees', async (t) => {
  const d = await deploy(t, { env: { SESSIOND_MAX_RUNNING: '1' } });
  await d.start();
  const env = { SESSIOND_URL: d.server.url, SESSIOND_TOKEN: TEST_TOKENS.write, NO_COLOR: '1' };
  const cli = (...args: string[]) => runCli(t, args, env);
  const get = async (id: string): Promise<Json> => JSON.parse((await cli('get', id)).stdout) as Json;

  const first = await cli('start', '--name', 'holder', '--cwd', d.root, '--', 'bash', '-c', 'exec sleep 60');
  t.equal(first.code, 0, `the first start takes the only place ${first.stderr}`);
  const holder = first.stdout.trim();

  const refused = await cli('start', '--name', 'no queue', '--cwd', d.root, '--', 'bash', '-c', 'exit 0');
  t.equal(refused.code, 1, 'without --queue, a start past the limit fails');
  t.match(refused.stderr, /limit_exceeded, HTTP 429/, 'with the service’s reason');
  t.equal(refused.stdout, '', 'and prints no id');

  const queued = await cli('start', '--queue', '--name', 'waiter', '--cwd', d.root, '--', 'bash', '-c', 'echo ran; exec sleep 60');
  t.equal(queued.code, 0, `start --queue past the limit exits 0 ${queued.stderr}`);
  const waiter = queued.stdout.trim();
  t.match(waiter, /^waiter-/, 'and prints the id');
  t.equal(queued.stderr, `sessiond: ${waiter} is queued: it starts when a place frees\n`, 'saying that it is queued');
  t.match(await get(waiter), { id: waiter, status: 'queued', pid: null }, 'the service holds it as queued, without a process');
  t.equal((await cli('ls', '-q', '--status', 'queued')).stdout, `${waiter}\n`, 'ls --status queued lists it');

  const json = await cli('start', '--queue', '--json', '--name', 'second waiter', '--cwd', d.root, '--', 'bash', '-c', 'exit 0');
  t.equal(json.code, 0);
  t.match(JSON.parse(json.stdout), { status: 'queued', queued_at: String }, '--queue --json: the queued session as JSON');

  t.equal((await cli('stop', holder)).code, 0, 'stopping the holder frees the place');
  // Ordered by the session's own output, not by a sleep.
  await eventually(async () => ((await cli('logs', waiter)).stdout === 'ran\n' ? true : undefined), 30_000);
  t.pass('the queued session then runs its command');
  t.match(await get(waiter), { status: 'running', pid: Number }, 'and is running');
  await cli('stop', waiter);
});

t.test('start --max-runtime sets max_runtime_ms, and the service ends the session then', async (t) => {
  const d = await deploy(t);
  await d.start();
  const env = { SESSIOND_URL: d.server.url, SESSIOND_TOKEN: TEST_TOKENS.write, NO_COLOR: '1' };
  const cli = (...args: string[]) => runCli(t, args, env);

  const long = await cli('start', '--json', '--max-runtime', '90m', '--name', 'long', '--cwd', d.root, '--', 'bash', '-c', 'exec sleep 60');
  t.equal(long.code, 0, long.stderr);
  const session = JSON.parse(long.stdout) as Json;
  t.equal(session.max_runtime_ms, 90 * 60_000, '--max-runtime 90m is 5,400,000 ms');
  t.equal((JSON.parse((await cli('get', session.id)).stdout) as Json).max_runtime_ms, 90 * 60_000, 'as the service keeps it');
  await cli('stop', session.id);

  const plain = JSON.parse((await cli('start', '--json', '--name', 'plain', '--cwd', d.root, '--', 'bash', '-c', 'exit 0')).stdout) as Json;
  t.equal(plain.max_runtime_ms, null, 'without --max-runtime: no limit (the default here)');

  const short = await cli('start', '--max-runtime', '1s', '--name', 'short', '--cwd', d.root, '--', 'bash', '-c', 'exec sleep 60');
  t.equal(short.code, 0, short.stderr);
  const id = short.stdout.trim();
  const ended = await d.waitEnded(id);
  t.match(ended, { status: 'stopped', stop_reason: 'max_runtime', max_runtime_ms: 1000 }, 'a one-second limit stops a `sleep 60` for max_runtime');

  const bad = await cli('start', '--max-runtime', 'soon', '--name', 'bad', '--cwd', d.root, '--', 'bash', '-c', 'exit 0');
  t.equal(bad.code, 2, 'a duration that is not one is a usage error');
  t.match(bad.stderr, /--max-runtime takes a duration such as 90s/);
  t.equal((await cli('ls', '-q', '--status', 'running')).stdout, '', 'and starts nothing');
});
