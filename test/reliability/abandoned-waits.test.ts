// 200 /wait calls whose clients went away: the real server releases them all at once and goes
// back to idle (v1 polled each one every 100 ms until its session ended: a core kept busy).
import { readFileSync } from 'node:fs';
import t from 'tap';
import { TEST_TOKENS } from '../helper.js';
import { deploy } from './server-process.js';

/** CPU seconds (user + system) the process has used, from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the command name.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

t.test('abandoned waits leave the server idle', async (t) => {
  const d = await deploy(t);
  const server = await d.start();
  const session = await d.run('sleep 600');
  const clients = Array.from({ length: 200 }, () => new AbortController());
  const waits = clients.map((c) =>
    fetch(`${server.url}/v1/sessions/${session.id}/wait`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_TOKENS.write}`, 'content-type': 'application/json' },
      body: JSON.stringify({ timeout_ms: 300_000 }),
      signal: c.signal,
    }).catch(() => 'aborted'),
  );
  // Give the waits time to reach the server (a wait that had not would only make this weaker).
  await new Promise((resolve) => setTimeout(resolve, 500));
  for (const c of clients) c.abort();
  await Promise.all(waits);
  // Let the closes land, then watch the server's CPU over a quiet second.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const before = cpuSeconds(server.pid);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const used = cpuSeconds(server.pid) - before;
  t.ok(used < 0.2, `the server used ${used.toFixed(2)} s of CPU in that second (idle is near 0; v1 used a whole core)`);
  const res = await d.request('GET', `/v1/sessions/${session.id}`);
  t.match(res.json(), { status: 'running' }, 'the session is untouched');
  await d.request('POST', `/v1/sessions/${session.id}/stop`, { body: { grace_ms: 0 } });
});
