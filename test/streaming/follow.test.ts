// `?follow=true` is `tail -f` over HTTP: byte-exact (bytes that are not UTF-8 included), ends by
// itself with the session. And real `curl -N` on both the SSE route and the follow route.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import t from 'tap';
import { SseClient, SseParser, authHeaders, numbered, startBash, startRealServer, type RealServer } from './helper.js';

// Text, a lone \xff, a multi-byte character (✓), a character split across two writes with a
// pause between, NUL, \r\n and a lone \r, over about a second.
const SCRIPT = [
  "for i in $(seq 1 30); do printf 'line %s \\xff ✓\\r\\n' $i; sleep 0.02; done",
  "printf 'split \\xe2\\x9c'",
  'sleep 0.3',
  "printf '\\x93 joined\\n'",
  "printf 'nul \\x00 here\\rlone cr\\n'",
  "printf 'no newline at the end \\xc3'",
].join('; ');

interface CurlResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** curl's -H arguments for the server's token. */
const curlAuth = (server: RealServer) => Object.entries(authHeaders(server.config)).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);

function curl(args: string[], timeoutMs = 60000): Promise<CurlResult> {
  return new Promise((resolve) => {
    execFile('curl', args, { encoding: 'buffer', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      // On a non-zero exit, err.code is the exit code; anything else (a timeout kill) is -1.
      const code: unknown = err ? (err as unknown as { code?: unknown }).code : 0;
      resolve({ code: typeof code === 'number' ? code : -1, stdout, stderr: stderr.toString() });
    });
  });
}

t.test('raw follow: byte-exact while the process writes, ends by itself with the session', async (t) => {
  const server = await startRealServer(t);
  const session = await startBash(server, SCRIPT);
  const follow = await SseClient.open(`${server.url}/v1/sessions/${session.id}/logs/stdout?follow=true`);
  t.equal(follow.status, 200);
  t.equal(follow.headers['cache-control'], 'no-cache');
  t.equal(follow.headers['x-accel-buffering'], 'no');
  t.match(follow.headers['content-type'], /^text\/plain/);
  await follow.closed(60000);
  t.ok(follow.endedCleanly, 'the response ended by itself when the session ended');
  const got = Buffer.concat(follow.raw);
  const file = await fs.readFile(session.log_path);
  t.ok(got.equals(file), `the bytes equal stdout.log exactly (${got.length} vs ${file.length})`);
  t.ok(file.includes(Buffer.from([0xff])), 'the log holds a byte that is not UTF-8');
  t.ok(file.includes(Buffer.from('✓')), 'and a multi-byte character');
  t.equal(server.app.logStreams.openStreams, 0);
});

t.test('raw follow of stderr, and of a session that already ended', async (t) => {
  const server = await startRealServer(t);
  const session = await startBash(server, "printf 'to stderr \\xfe\\n' >&2; sleep 0.3; printf 'more\\n' >&2");
  const live = await SseClient.open(`${server.url}/v1/sessions/${session.id}/logs/stderr?follow=true`);
  await live.closed(30000);
  t.ok(live.endedCleanly);
  const file = await fs.readFile(session.stderr_path);
  t.ok(Buffer.concat(live.raw).equals(file), 'stderr, byte-exact');
  const again = await SseClient.open(`${server.url}/v1/sessions/${session.id}/logs/stderr?follow=true`);
  await again.closed(30000);
  t.ok(again.endedCleanly, 'a follow of an ended session sends the log and ends');
  t.ok(Buffer.concat(again.raw).equals(file));
});

t.test('curl -N on the follow route: exits 0 by itself, output equals the file', async (t) => {
  const server = await startRealServer(t);
  const session = await startBash(server, SCRIPT);
  const result = await curl(['-sSN', '--fail', ...curlAuth(server), `${server.url}/v1/sessions/${session.id}/logs/stdout?follow=true`]);
  t.equal(result.code, 0, `curl exit code 0 (stderr: ${result.stderr})`);
  const file = await fs.readFile(session.log_path);
  t.ok(result.stdout.equals(file), `curl's output is stdout.log byte for byte (${result.stdout.length} vs ${file.length})`);
});

t.test('curl -N on the SSE route: exits 0 by itself, every line is there', async (t) => {
  const server = await startRealServer(t);
  const session = await startBash(
    server,
    'for i in $(seq 1 60); do echo "out $i"; if [ $((i % 10)) = 0 ]; then echo "err $i" >&2; fi; sleep 0.01; done',
  );
  const result = await curl(['-sSN', '--fail', ...curlAuth(server), `${server.url}/v1/sessions/${session.id}/logs/stream?from=start`]);
  t.equal(result.code, 0, `curl exit code 0 (stderr: ${result.stderr})`);
  const items = new SseParser().push(result.stdout);
  const events = items.filter((i) => i.type === 'event') as Array<{ event: string; data: string }>;
  const lines = (stream: string) => events.filter((e) => e.event === stream).flatMap((e) => e.data.split('\n'));
  t.same(lines('stdout'), numbered('out', 60), 'every stdout line, once, in order');
  t.same(lines('stderr'), numbered('err', 6).map((_, i) => `err ${(i + 1) * 10}`), 'every stderr line');
  t.equal(events.at(-1)?.event, 'end', 'the output ends with the end event');
  t.ok(result.stdout.toString().startsWith('retry: 2000\n\n'));
});
