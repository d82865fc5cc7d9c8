// Slow and refused clients over a real socket (issue 9, point 7). v1 read nothing before auth but
// then kept the connection while a refused client trickled its body, and had no request timeout
// (Fastify's default is none): an anonymous trickle held a connection for more than 90 s. Now a
// refused request is answered when its headers arrive and its connection closed, and a request
// that has not fully arrived within SESSIOND_REQUEST_TIMEOUT_MS (default 20 s, at most 30 s) is
// cut with 408; a long /wait or a log stream is not, since only the receiving is timed.
import net from 'node:net';
import t from 'tap';
import { loadConfig } from '../../src/config.js';
import { TEST_TOKENS, buildFakeApp } from '../helper.js';

interface Conversation {
  socket: net.Socket;
  /** Everything the server sent so far. */
  text(): string;
  /** Resolves when the server sent a whole status line and headers. */
  head(): Promise<string>;
  /** Resolves when the connection is closed (by either side). */
  closed: Promise<void>;
}

/** A connection that writes `start` and leaves the rest to the test. */
function converse(port: number, start: string): Promise<Conversation> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    const waiters = new Set<() => void>();
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      received += chunk;
      for (const waiter of [...waiters]) waiter();
    });
    socket.on('error', () => undefined);
    const closed = new Promise<void>((done) => socket.on('close', () => done()));
    socket.on('connect', () => {
      socket.write(start);
      resolve({
        socket,
        text: () => received,
        head: () =>
          new Promise((done, fail) => {
            const check = () => {
              if (received.includes('\r\n\r\n')) {
                waiters.delete(check);
                done(received.slice(0, received.indexOf('\r\n\r\n')));
              }
            };
            waiters.add(check);
            check();
            void closed.then(() => (received.includes('\r\n\r\n') ? check() : fail(new Error(`closed without an answer: ${JSON.stringify(received)}`))));
          }),
        closed,
      });
    });
    socket.on('error', reject);
  });
}

/** `promise`, or a failure naming `what` after `ms`. */
async function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

const listen = async (ctx: Awaited<ReturnType<typeof buildFakeApp>>) => {
  await ctx.app.listen({ port: 0, host: '127.0.0.1' });
  return (ctx.app.server.address() as net.AddressInfo).port;
};

/** A start request whose body has begun and will never be finished. */
const postHead = (auth: string | null, extra = 'Content-Length: 100000') =>
  `POST /v1/sessions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n${auth ? `Authorization: ${auth}\r\n` : ''}${extra}\r\n\r\n` +
  (extra.includes('chunked') ? '8\r\n{"name":\r\n' : '{"name":');

t.test('a refused request is answered when its headers arrive, before its body, and its connection closed', async (t) => {
  const ctx = await buildFakeApp(t);
  const port = await listen(ctx);
  for (const [what, auth, extra, status] of [
    ['no token, Content-Length', null, 'Content-Length: 100000', 401],
    ['no token, chunked', null, 'Transfer-Encoding: chunked', 401],
    ['a wrong token', 'Bearer not-a-token-but-long-enough', 'Content-Length: 100000', 401],
    ['a read token on a write route', `Bearer ${TEST_TOKENS.read}`, 'Content-Length: 100000', 403],
  ] as const) {
    const conversation = await converse(port, postHead(auth, extra));
    // The body is never finished: an answer now proves the server did not wait for it (a wait
    // would end in a 408 after the request timeout, not in this status).
    const head = await conversation.head();
    t.match(head, new RegExp(`^HTTP/1\\.1 ${status} `), `${what}: ${status} before the body`);
    t.match(head, /content-type: application\/problem\+json/i);
    t.match(head, /connection: close/i, 'the connection is closed after the answer');
    // The server closes: the client's trickle has nowhere to go (well before the 20 s timeout).
    await within(10_000, conversation.closed, `${what}: the close`);
    t.pass(`${what}: the server closed the connection`);
  }
  t.same(ctx.processes.launched, [], 'nothing was started');
});

t.test('a body that trickles one byte a second is cut with 408 after the request timeout', async (t) => {
  const ctx = await buildFakeApp(t, { env: { SESSIOND_REQUEST_TIMEOUT_MS: '1500' } });
  const port = await listen(ctx);
  const began = Date.now();
  const conversation = await converse(port, postHead(`Bearer ${TEST_TOKENS.write}`, 'Content-Length: 1000'));
  const trickle = setInterval(() => {
    if (!conversation.socket.destroyed) conversation.socket.write('a');
  }, 1000);
  t.teardown(() => clearInterval(trickle));
  const head = await within(15_000, conversation.head(), 'the 408');
  await conversation.closed;
  clearInterval(trickle);
  const seconds = (Date.now() - began) / 1000;
  t.match(head, /^HTTP\/1\.1 408 /, '408');
  t.match(head, /content-type: application\/problem\+json/i, 'problem+json');
  t.match(JSON.parse(conversation.text().split('\r\n\r\n')[1] ?? '{}'), { code: 'request_timeout', status: 408 });
  // 1000 bytes at one a second would take 16 minutes; the cut comes after the 1.5 s timeout
  // (checked every second).
  t.ok(seconds < 15, `cut after ${seconds.toFixed(1)} s`);
  t.same(ctx.processes.launched, [], 'nothing was started');

  // Headers trickled the same way (slowloris) are cut the same way.
  const slowHeaders = await converse(port, 'GET /v1/sessions HTTP/1.1\r\nHost: localhost\r\n');
  const drip = setInterval(() => {
    if (!slowHeaders.socket.destroyed) slowHeaders.socket.write('X');
  }, 1000);
  t.teardown(() => clearInterval(drip));
  await within(15_000, slowHeaders.closed, 'the cut of trickled headers');
  clearInterval(drip);
  t.match(slowHeaders.text(), /^HTTP\/1\.1 408 /, 'trickled headers: 408');
});

t.test('only the receiving is timed: a wait and a log stream outlive the request timeout', async (t) => {
  const ctx = await buildFakeApp(t, { env: { SESSIOND_REQUEST_TIMEOUT_MS: '1000' } });
  const port = await listen(ctx);
  const started = await ctx.app.inject({ method: 'POST', url: '/v1/sessions', payload: { name: 'long', working_directory: ctx.root, command: 'bash', args: [] } });
  const id = started.json().id as string;
  const auth = { authorization: `Bearer ${TEST_TOKENS.write}` };
  const began = Date.now();
  const wait = await fetch(`http://127.0.0.1:${port}/v1/sessions/${id}/wait`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ timeout_ms: 3000 }),
  });
  t.equal(wait.status, 200, 'a 3 s wait answers 200');
  t.equal((await wait.json()).status, 'running', 'at its own timeout');
  t.ok(Date.now() - began >= 2900, 'after waiting its 3 s');

  const stream = await fetch(`http://127.0.0.1:${port}/v1/sessions/${id}/logs/stream`, { headers: auth });
  t.equal(stream.status, 200);
  const reader = stream.body!.getReader();
  let text = '';
  const readUntil = async (what: RegExp) => {
    while (!what.test(text)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the stream ended before ${what}: ${text}`);
      text += Buffer.from(value).toString('utf8');
    }
  };
  await readUntil(/event: status/);
  await new Promise((resolve) => setTimeout(resolve, 2500));
  await ctx.processes.write(id, 'stdout', 'still here\n');
  await readUntil(/still here/);
  t.pass('the stream is open and live 2.5 s later');
  await ctx.processes.exit(id, 0);
  await readUntil(/event: end/);
  t.pass('and ends as the session does');
});

t.test('the default request timeout is at most 30 s, and the server uses the setting', async (t) => {
  const config = loadConfig({}, '/');
  t.equal(config.requestTimeoutMs, 20000, 'default 20 s');
  t.throws(() => loadConfig({ SESSIOND_REQUEST_TIMEOUT_MS: '60000' }, '/'), /between 1000 and 30000/, 'more than 30 s is refused');
  const ctx = await buildFakeApp(t);
  t.equal(ctx.app.server.requestTimeout, 20000, 'node:http requestTimeout');
  t.equal(ctx.app.server.headersTimeout, 20000, 'node:http headersTimeout');
});
