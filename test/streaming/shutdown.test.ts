// app.close() with live SSE and follow clients: it finishes promptly, every client sees its
// response end, and the sessions keep running (sessiond may restart under them).
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { eventually } from '../helper.js';
import { SseClient, startBash, startRealServer } from './helper.js';

t.test('app.close() ends SSE streams and aborts raw follows at once; the session keeps running', async (t) => {
  const server = await startRealServer(t);
  const session = await startBash(server, 'echo "started"; echo "err" >&2; sleep 60');
  const pid = session.pid as number;
  t.teardown(async () => {
    // The server is gone: end the session ourselves (its process group)...
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
    // ...and let its keeper finish writing exit.json before the folders are removed.
    const exitFile = path.join(server.config.dataDir, 'sessions', session.id, 'run', 'exit.json');
    await eventually(() => (fs.existsSync(exitFile) ? true : undefined), 10_000).catch(() => undefined);
  });
  const sse = await Promise.all(
    Array.from({ length: 3 }, () => SseClient.open(`${server.url}/v1/sessions/${session.id}/logs/stream`)),
  );
  const follow = await Promise.all([
    SseClient.open(`${server.url}/v1/sessions/${session.id}/logs/stdout?follow=true`),
    SseClient.open(`${server.url}/v1/sessions/${session.id}/logs/stderr?follow=true`),
  ]);
  await Promise.all(sse.map((c) => c.until((x) => x.lines('stdout').includes('started'), 20000, 'started')));
  await Promise.all(follow.map((c) => c.until((x) => x.raw.length > 0, 20000, 'bytes')));
  t.equal(server.app.logStreams.openStreams, 5);

  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    server.app.close().then(() => 'closed'),
    new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve('still closing after 10 s'), 10000);
    }),
  ]);
  clearTimeout(timer);
  t.equal(outcome, 'closed', 'close() did not wait on the open streams');

  const clients = [...sse, ...follow];
  await Promise.all(clients.map((c) => c.closed(10000)));
  t.ok(clients.every((c) => c.finished), 'every client saw its response end');
  t.ok(sse.every((c) => c.endedCleanly), 'SSE: a clean end of the response (EventSource reconnects and resumes)');
  t.ok(follow.every((c) => !c.endedCleanly), 'raw follow: aborted, not ended, so a client can tell it from a session that ended');
  t.ok(sse.every((c) => !c.events.some((e) => e.event === 'end')), 'no `end` event: the session did not end');
  // Every response has ended; the streams' own loops finish a moment later.
  await eventually(() => (server.app.logStreams.openStreams === 0 ? true : undefined), 5000);
  t.ok(fs.existsSync(`/proc/${pid}`), `the session's process ${pid} is still alive`);
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  t.notMatch(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3), /[ZX]/, 'and not a zombie');
});
