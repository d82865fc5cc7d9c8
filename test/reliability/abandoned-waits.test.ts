// 500 /wait calls whose clients went away (the original attack's count): the real server releases
// them all at once and goes back to idle (v1 polled each one every 100 ms until its session
// ended: a core kept busy).
import { readdirSync, readlinkSync, readFileSync } from 'node:fs';
import t from 'tap';
import { eventually, TEST_TOKENS } from '../helper.js';
import { deploy } from './server-process.js';

/** CPU seconds (user + system) the process has used, from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the command name.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** How many sockets the process holds open (its listening socket included). */
function openSockets(pid: number): number {
  let count = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) count++;
    } catch {
      // Closed while listed.
    }
  }
  return count;
}

const WAITS = 500;

t.test(`${WAITS} abandoned waits leave the server idle`, async (t) => {
  // Waits are POSTs, which the rate limit counts (300 a minute by default): raised, so every
  // one of the 500 waits and none is answered 429 at once.
  const d = await deploy(t, { env: { SESSIOND_RATE_LIMIT: '100000' } });
  const server = await d.start();
  const session = await d.run('sleep 600');
  const clients = Array.from({ length: WAITS }, () => new AbortController());
  const waits = clients.map((c) =>
    fetch(`${server.url}/v1/sessions/${session.id}/wait`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_TOKENS.write}`, 'content-type': 'application/json' },
      body: JSON.stringify({ timeout_ms: 300_000 }),
      signal: c.signal,
    }).catch(() => 'aborted'),
  );
  // Every wait's connection is open at the server; then a moment for their requests to be read
  // (a wait that had not reached its handler would only make this weaker, and the log below
  // shows that none was answered before its client left).
  await eventually(() => (openSockets(server.pid) > WAITS ? true : undefined), 30_000);
  await new Promise((resolve) => setTimeout(resolve, 500));
  for (const c of clients) c.abort();
  await Promise.all(waits);
  // The server logs each request when its connection closes: all the waits, each cut off by its
  // client (none answered: no 429, no early reply).
  const cutWaits = () =>
    server.logs().filter((l) => l.request?.route === '/v1/sessions/:id/wait' && l.request?.method === 'POST');
  await eventually(() => (cutWaits().length >= WAITS ? true : undefined), 30_000).catch(() => undefined);
  const logged = cutWaits();
  t.equal(logged.length, WAITS, `the server saw all ${WAITS} waits`);
  t.ok(
    logged.every((l) => l.request.cut === true),
    `each was cut off by its client, none answered (${[...new Set(logged.map((l) => `${l.request.status}${l.request.cut ? ' cut' : ''}`))].join(', ')})`,
  );
  // Then watch the server's CPU over a quiet second.
  const before = cpuSeconds(server.pid);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const used = cpuSeconds(server.pid) - before;
  t.ok(used < 0.2, `the server used ${used.toFixed(2)} s of CPU in that second (idle is near 0; v1 used a whole core)`);
  const res = await d.request('GET', `/v1/sessions/${session.id}`);
  t.match(res.json(), { status: 'running' }, 'the session is untouched');
  await d.request('POST', `/v1/sessions/${session.id}/stop`, { body: { grace_ms: 0 } });
});
