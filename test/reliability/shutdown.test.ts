// SIGTERM to the real server process with live log clients: it exits 0, the clients' responses
// end instead of hanging, and the session runs on and is found running after a restart.
import t from 'tap';
import { deploy, isRunning, StreamClient } from './server-process.js';

t.test('SIGTERM with an SSE client and a follow client connected', async (t) => {
  const d = await deploy(t);
  await d.start();
  const session = await d.run('echo started; sleep 600', { name: 'streamed' });

  const sse = await StreamClient.open(d.server.url, `/v1/sessions/${session.id}/logs/stream`);
  const follow = await StreamClient.open(d.server.url, `/v1/sessions/${session.id}/logs/stdout?follow=true`);
  t.equal(sse.status, 200);
  t.equal(follow.status, 200);
  await sse.until((c) => c.lines('stdout').includes('started'), 20_000, 'the line on the SSE stream');
  await follow.until((c) => c.text === 'started\n', 20_000, 'the bytes on the follow stream');

  d.server.child.kill('SIGTERM');
  const exit = await d.server.waitExit(60_000);
  t.same(exit, { code: 0, signal: null }, 'the server exits with code 0');
  t.ok(
    d.server.logs().some((l) => /closing/.test(String(l.msg))),
    'it logged that it was closing',
  );

  t.ok(await sse.finishedWithin(15_000), 'the SSE response ended');
  t.ok(await follow.finishedWithin(15_000), 'the follow response ended');
  t.comment(`sse: ${sse.endedCleanly ? 'clean end' : `error ${sse.error?.message}`}; follow: ${follow.endedCleanly ? 'clean end' : `error ${follow.error?.message}`}`);
  t.notOk(sse.events().some((e) => e.event === 'end'), 'no `end` event: the session did not end');
  t.equal(follow.text, 'started\n', 'the follow client got the bytes, nothing else');
  t.ok(await isRunning(session.pid), 'the session process is still alive');

  await d.start();
  t.match((await d.request('GET', `/v1/sessions/${session.id}`)).json(), { status: 'running', pid: session.pid }, 'running after the restart');
  const stop = await d.request('POST', `/v1/sessions/${session.id}/stop`, { body: { grace_ms: 1000 } });
  t.equal(stop.json().status, 'stopped');
});
