// Following across a dropped connection (issue 14, point 3): `logs -f`, `events` and `wait` run as
// real processes while the service is killed (SIGKILL) and started again on the same port. The
// session keeps running; each command reconnects (logs and events with Last-Event-ID) and goes on
// with no gap and no duplicate; logs -f ends when the session does, wait exits with its code.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { TEST_TOKENS } from '../helper.js';
import { deploy } from '../reliability/server-process.js';
import { freePort, runCli, spawnCli } from './cli-process.js';

t.test('logs -f, events and wait survive a restart of the service', async (t) => {
  const port = await freePort();
  const d = await deploy(t, { env: { SESSIOND_PORT: String(port) } });
  await d.start();
  const env = { SESSIOND_URL: d.server.url, SESSIOND_TOKEN: TEST_TOKENS.read, NO_COLOR: '1' };
  // Writes, then waits for the test's go-ahead (a file), writes again and ends with 5.
  const script = 'echo one; echo uno >&2; while [ ! -e go ]; do sleep 0.05; done; echo two; echo dos >&2; printf three; exit 5';
  const started = await runCli(t, ['start', '--name', 'follow me', '--cwd', d.root, '--', 'bash', '-c', script], { ...env, SESSIOND_TOKEN: TEST_TOKENS.write });
  const id = started.stdout.trim();
  t.equal(started.code, 0, `started ${id}`);

  const logs = spawnCli(t, ['logs', '-f', '--both', id], env);
  // From seq 0: everything this service has recorded about the session, then live.
  const events = spawnCli(t, ['events', '--session', id, '--since', '0', '--json'], env);
  // A write token: its wait is a request in flight when the service is killed.
  const waiting = spawnCli(t, ['wait', id], { ...env, SESSIOND_TOKEN: TEST_TOKENS.write });
  await logs.until((p) => p.stdout === 'one\n' && p.stderr === 'uno\n', 'printed the first lines');
  await events.until((p) => p.stdout.includes('"session.started"'), 'replayed the start');

  await d.restart('SIGKILL');
  // Only once the new service runs: the rest is written while the commands are reconnecting or back.
  await writeFile(path.join(d.root, 'go'), '');

  const logged = await logs.exited;
  t.equal(logged.code, 0, 'logs -f exits 0 once the session has ended');
  t.equal(logged.stdout, 'one\ntwo\nthree', 'stdout: every line once, in order, the partial last line as it is');
  t.match(logged.stderr, /sessiond: .*; reconnecting…\n/, 'it said it lost the connection');
  t.match(logged.stderr, /sessiond: reconnected/, 'and that it got it back');
  t.equal(
    logged.stderr
      .split('\n')
      .filter((line) => !line.startsWith('sessiond: '))
      .join('\n'),
    'uno\ndos\n',
    'stderr: the session’s lines once each',
  );

  const waited = await waiting.exited;
  t.equal(waited.code, 5, 'wait exits with the session’s code across the restart');
  t.equal(waited.stdout, '5\n');

  await events.until((p) => p.stdout.includes('"session.ended"'), 'the end, after the restart');
  events.child.kill('SIGTERM');
  const lines = (await events.exited).stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { seq: number; type: string; session: { id: string } });
  const seqs = lines.map((e) => e.seq);
  t.same(seqs, [...new Set(seqs)].sort((a, b) => a - b), 'events: in seq order, none twice');
  t.ok(lines.every((e) => e.session.id === id), 'only this session’s');
  t.equal(lines.filter((e) => e.type === 'session.ended').length, 1, 'the end, once');
  t.match(events.stderr, /reconnect/, 'events reconnected too');
});
