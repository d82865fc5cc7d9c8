// A log truncated under a live stream (logrotate's copytruncate, an operator's `: > stdout.log`):
// the SSE stream says `truncated` with the new size and goes on; a raw follow goes on too.
import fs from 'node:fs/promises';
import t from 'tap';
import { SseClient, parseId, request, startBash, startRealServer } from './helper.js';

const SCRIPT = 'for i in $(seq 1 150); do echo "line $i"; sleep 0.02; done; echo "last line"';

t.test('SSE: truncated event with the new size, then later lines still arrive', async (t) => {
  const server = await startRealServer(t);
  const session = await startBash(server, SCRIPT);
  const client = await SseClient.open(`${server.url}/v1/sessions/${session.id}/logs/stream?from=start`);
  await client.until((c) => c.lines('stdout').length >= 20, 20000, '20 lines');
  const before = parseId(client.output('stdout').at(-1)?.id).stdout;
  await fs.truncate(session.log_path, 0);
  await client.untilEnd(60000);
  await client.closed();

  const truncated = client.events.filter((e) => e.event === 'truncated');
  t.equal(truncated.length, 1, 'one truncated event');
  const notice = JSON.parse(truncated[0]?.data ?? '{}') as { stream: string; size: number };
  t.equal(notice.stream, 'stdout');
  t.type(notice.size, 'number');
  t.ok(notice.size < before, `the new size (${notice.size}) is below what had been sent (${before})`);
  t.equal(parseId(truncated[0]?.id).stdout, notice.size, 'its id moves the stdout offset to the new size');

  const at = client.events.indexOf(truncated[0] as never);
  const after = client.events.slice(at + 1).filter((e) => e.event === 'stdout').flatMap((e) => e.data.split('\n'));
  t.ok(after.length > 0, 'lines after the truncation arrive');
  t.equal(after.at(-1), 'last line', 'up to the very last');
  t.ok(
    after.every((line) => /^line \d+$/.test(line) || line === 'last line'),
    'whole lines, no NUL padding or half lines',
  );
  // Lines after the truncation go on in order from where the writer was.
  const numbers = after.filter((l) => l !== 'last line').map((l) => Number(l.slice(5)));
  t.ok(numbers.every((n, i) => i === 0 || n === (numbers[i - 1] as number) + 1), 'consecutive after the cut');
  const beforeLines = client.events
    .slice(0, at)
    .filter((e) => e.event === 'stdout')
    .flatMap((e) => e.data.split('\n'));
  t.same(beforeLines, Array.from({ length: beforeLines.length }, (_, i) => `line ${i + 1}`), 'in order before the cut');
  t.ok((numbers[0] ?? 0) > beforeLines.length, 'nothing from before the cut is sent twice');
  const size = (await fs.stat(session.log_path)).size;
  t.equal(parseId(client.output('stdout').at(-1)?.id).stdout, size, 'the last id is the size of the truncated log');
  t.match(JSON.parse(client.events.at(-1)?.data ?? '{}'), { status: 'exited', exit_code: 0 });
});

t.test('raw follow goes on after a truncation and ends with the session', async (t) => {
  const server = await startRealServer(t);
  const session = await startBash(server, SCRIPT);
  const follow = await SseClient.open(`${server.url}/v1/sessions/${session.id}/logs/stdout?follow=true`);
  await follow.until((c) => c.text().includes('line 20\n'), 20000, 'line 20');
  await fs.truncate(session.log_path, 0);
  await follow.closed(60000);
  t.ok(follow.endedCleanly, 'the response ended by itself');
  const text = follow.text();
  t.ok(text.startsWith('line 1\n'), 'from the start');
  t.ok(text.endsWith('last line\n'), 'to the end, after the truncation');
  t.notOk(text.includes('\0'), 'no zero padding');
  const res = await request(`${server.url}/v1/sessions/${session.id}`);
  t.equal(res.json().status, 'exited');
});
