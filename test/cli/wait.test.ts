// `sessiond wait` against a real service (issue 14, point 3): it exits with the session's exit
// code as docker wait reports it (a signal is 128 + its number), gives up with 124 on --timeout,
// and works with a read token too.
import t from 'tap';
import { TEST_TOKENS } from '../helper.js';
import { deploy } from '../reliability/server-process.js';
import { runCli } from './cli-process.js';

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
