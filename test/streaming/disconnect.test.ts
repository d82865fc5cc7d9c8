// A client that goes away while the server is in the middle of reading the log for it: the read
// comes back with bytes for a response that is already closed. The stream must still finish
// (and free its slot), not wait forever for a `drain` or `close` that already happened.
// On the fakes, so the moment of the disconnect is exact.
import type { ServerResponse } from 'node:http';
import t, { type Test } from 'tap';
import { buildFakeApp, eventually, type FakeApp } from '../helper.js';
import { SseClient, sleep, useToken } from './helper.js';

async function setup(t: Test) {
  const ctx: FakeApp = await buildFakeApp(t);
  await ctx.app.listen({ host: '127.0.0.1', port: 0 });
  useToken(ctx.config);
  const url = `http://127.0.0.1:${(ctx.app.server.address() as { port: number }).port}`;
  const res = await ctx.app.inject({
    method: 'POST',
    url: '/v1/sessions',
    payload: { name: 'leaver', working_directory: ctx.root, command: 'bash', args: [] },
  });
  const id = res.json().id as string;
  await ctx.processes.write(id, 'stdout', 'hello\n');
  return { ctx, url, id };
}

/** Holds the next log read until `release()`; `entered` resolves when a read is held. */
function gateNextRead(ctx: FakeApp) {
  const real = ctx.store.readLog.bind(ctx.store);
  let release: () => void = () => undefined;
  let entered: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  const enteredP = new Promise<void>((resolve) => (entered = resolve));
  let armed = true;
  ctx.store.readLog = async (...args) => {
    if (armed) {
      armed = false;
      entered();
      await held;
    }
    return real(...args);
  };
  return { entered: enteredP, release };
}

const serverSide = (ctx: FakeApp) => [...(ctx.app.logStreams as unknown as { open: Set<ServerResponse> }).open];

for (const kind of ['follow', 'sse'] as const) {
  t.test(`${kind}: a client gone during a read does not leave its stream hanging`, async (t) => {
    const { ctx, url, id } = await setup(t);
    const path = kind === 'follow' ? `/v1/sessions/${id}/logs/stdout?follow=true` : `/v1/sessions/${id}/logs/stream?from=start`;
    const client = await SseClient.open(`${url}${path}`);
    t.teardown(() => client.abort());
    await client.until((c) => c.text().includes('hello'), 5000, 'hello');
    const gate = gateNextRead(ctx);
    // Enough to fill the socket, so the write after the read cannot be taken at once.
    await ctx.processes.write(id, 'stdout', `${'x'.repeat(99)}\n`.repeat(20000));
    await gate.entered;
    client.abort();
    await eventually(() => (serverSide(ctx).every((res) => res.destroyed) ? true : undefined), 5000);
    await sleep(50);
    gate.release();
    await eventually(() => (ctx.app.logStreams.openStreams === 0 ? true : undefined), 5000);
    t.equal(ctx.app.logStreams.openStreams, 0, 'the stream finished');
    t.equal(ctx.app.logStreams.hub.watchedLogs, 0, 'and let go of its watcher');
    // What remains is the service's own watch of the live session's two logs: the supervisor's
    // (activity) and the log indexer's (time and order).
    t.equal(ctx.store.watcherCount(), 4, 'no watcher of the stream left on the store');
  });
}
