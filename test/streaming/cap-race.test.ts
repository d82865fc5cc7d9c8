// Followers racing the log cap: a session writes 15 MB fast under a 64 KiB cap while SSE clients
// follow it. Every byte a client gets is the byte the session wrote at that offset (never a
// hole's zeros); a client that fell behind the window is told with `truncated` and goes on.
import http from 'node:http';
import t, { type Test } from 'tap';
import { authHeaders, SseParser, parseId, startBash, startRealServer, waitEnded, type SseEvent } from './helper.js';

const CAP = 64 * 1024;
const BLOCKS = 150;
const PER_BLOCK = 1000;
const PAD = `${'abcdefghij'.repeat(9)}a`;
const line = (i: number) => `L${String(i).padStart(6, '0')} ${PAD}\n`;
const expected = Array.from({ length: BLOCKS * PER_BLOCK }, (_, i) => line(i + 1)).join('');
// 150 bursts of 100 KB: the cap punches again and again while the clients read.
const SCRIPT = `for k in $(seq 0 ${BLOCKS - 1}); do seq -f 'L%06g ${PAD}' $((k*${PER_BLOCK}+1)) $((k*${PER_BLOCK}+${PER_BLOCK})); sleep 0.01; done`;

/** Checks a client's events against what was written; answers how many `truncated` it got. */
function verify(t: Test, events: SseEvent[], size: number): number {
  let at = 0;
  let truncated = 0;
  let bad = 0;
  for (const event of events) {
    if (event.event === 'truncated') {
      const notice = JSON.parse(event.data) as { retained_from: number };
      if (notice.retained_from < at) bad++;
      at = notice.retained_from;
      if (parseId(event.id).stdout !== at) bad++;
      truncated++;
    } else if (event.event === 'stdout') {
      const next = parseId(event.id).stdout;
      // The event's lines are exactly the bytes [at, next), their line ends taken off.
      if (expected.slice(at, next).replace(/\n$/, '') !== event.data) bad++;
      at = next;
    }
  }
  t.equal(bad, 0, 'every byte received is the byte written at its offset; no zeros, nothing out of place');
  t.equal(at, size, 'up to the end of the log');
  t.equal(events.at(-1)?.event, 'end', 'then end');
  return truncated;
}

/** An SSE client that can stop reading for a while (its socket fills, the server waits). */
function follow(url: string, headers: Record<string, string>) {
  const parser = new SseParser();
  const events: SseEvent[] = [];
  let res: http.IncomingMessage | null = null;
  let firstData: () => void = () => undefined;
  const started = new Promise<void>((resolve) => (firstData = resolve));
  const done = new Promise<void>((resolve, reject) => {
    http
      .get(url, { agent: false, headers: { accept: 'text/event-stream', ...headers } }, (response) => {
        res = response;
        response.on('data', (chunk: Buffer) => {
          for (const item of parser.push(chunk)) if (item.type === 'event') events.push(item);
          firstData();
        });
        response.on('end', () => resolve());
        response.on('error', reject);
      })
      .on('error', reject);
  });
  return { events, done, started, pause: () => res?.pause(), resume: () => res?.resume() };
}

t.test('followers racing the cap get only the written bytes, and are told when they fell behind', async (t) => {
  const server = await startRealServer(t, { SESSIOND_MAX_LOG_BYTES: String(CAP) });
  const auth = authHeaders(server.config);
  const session = await startBash(server, SCRIPT);
  const url = `${server.url}/v1/sessions/${session.id}/logs/stream?from=start&streams=stdout`;
  const racing = follow(url, auth);
  const slow = follow(url, auth);
  await slow.started;
  // The slow one stops reading until the session is done: the window has moved far past it.
  slow.pause();
  await waitEnded(server, session.id, 120000);
  slow.resume();
  await Promise.all([racing.done, slow.done]);

  const size = expected.length;
  t.test('the racing follower', async (t) => {
    const truncated = verify(t, racing.events, size);
    t.pass(`it got ${truncated} truncated event(s)`);
  });
  t.test('the follower that fell behind', async (t) => {
    const truncated = verify(t, slow.events, size);
    t.ok(truncated >= 1, `told with truncated (${truncated})`);
  });
});
