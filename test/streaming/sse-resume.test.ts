// Reconnecting with the last event id (header, or ?last_event_id=) gives exactly the bytes after
// it: the two connections together hold every line once, with no gap and no duplicate.
import t, { type Test } from 'tap';
import { SseClient, numbered, parseId, startBash, startRealServer, waitEnded, type RealServer, type SessionJson } from './helper.js';

const N = 120;
// Numbered lines over time on stdout, every 4th also on stderr; some lines end in \r\n so a
// resume point can fall right after a \r.
const SCRIPT = `for i in $(seq 1 ${N}); do if [ $((i % 5)) = 0 ]; then printf 'line %s\\r\\n' $i; else echo "line $i"; fi; if [ $((i % 4)) = 0 ]; then echo "warn $i" >&2; fi; sleep 0.02; done`;

async function resumeCase(t: Test, server: RealServer, session: SessionJson, how: 'header' | 'query') {
  const base = `${server.url}/v1/sessions/${session.id}/logs/stream?from=start`;
  const first = await SseClient.open(base);
  // Abort part-way through, while the process is still printing.
  await first.until((c) => c.lines('stdout').length >= 30 && c.lines('stderr').length >= 3, 30000, '30 lines');
  first.abort();
  await first.closed();
  const seen = first.output();
  const lastId = seen.at(-1)?.id as string;
  t.ok(/^\d+-\d+$/.test(lastId), `the last id received is ${lastId}`);
  t.notOk(first.events.some((e) => e.event === 'end'), 'the first connection was cut before the end');

  const second =
    how === 'header'
      ? await SseClient.open(base, { headers: { 'last-event-id': lastId } })
      : await SseClient.open(`${base}&last_event_id=${lastId}`);
  t.equal(second.status, 200);
  await second.untilEnd(60000);
  await second.closed();

  const firstOut = first.lines('stdout');
  const firstErr = first.lines('stderr');
  const allOut = [...firstOut, ...second.lines('stdout')];
  const allErr = [...firstErr, ...second.lines('stderr')];
  t.same(allOut, numbered('line', N), `${how}: stdout across both connections, every line once`);
  t.same(
    allErr,
    numbered('warn', N).filter((_, i) => (i + 1) % 4 === 0),
    `${how}: stderr across both connections, every line once`,
  );
  // The second connection's ids go on from where the first stopped.
  const resumed = parseId(lastId);
  const firstSecondId = parseId(second.output()[0]?.id);
  t.ok(firstSecondId.stdout >= resumed.stdout && firstSecondId.stderr >= resumed.stderr, 'ids continue, never go back');
  return { first, second };
}

t.test('resume with the Last-Event-ID header', async (t) => {
  const server = await startRealServer(t);
  await resumeCase(t, server, await startBash(server, SCRIPT, 'resume-header'), 'header');
});

t.test('resume with ?last_event_id=', async (t) => {
  const server = await startRealServer(t);
  await resumeCase(t, server, await startBash(server, SCRIPT, 'resume-query'), 'query');
});

t.test('resume after the session ended: only the rest, then end', async (t) => {
  const server = await startRealServer(t);
  const session = await startBash(server, 'for i in $(seq 1 20); do echo "line $i"; done; echo "e1" >&2; echo "e2" >&2');
  const full = await SseClient.open(`${server.url}/v1/sessions/${session.id}/logs/stream?from=start`);
  await full.untilEnd();
  // A client cut off after line 10 and "e1" holds the id `<bytes of 10 lines>-<bytes of "e1\n">`.
  const bytesBefore = (n: number) => numbered('line', n).reduce((s, l) => s + l.length + 1, 0);
  const again = await SseClient.open(`${server.url}/v1/sessions/${session.id}/logs/stream`, {
    headers: { 'last-event-id': `${bytesBefore(10)}-3` },
  });
  await again.untilEnd();
  t.same(again.lines('stdout'), numbered('line', 20).slice(10), 'exactly the lines after the id');
  t.same(again.lines('stderr'), ['e2']);
  t.equal(parseId(again.output('stdout')[0]?.id).stdout, bytesBefore(20));

  const atEnd = full.output().at(-1)?.id as string;
  const none = await SseClient.open(`${server.url}/v1/sessions/${session.id}/logs/stream?last_event_id=${atEnd}`);
  await none.untilEnd();
  t.same(none.output(), [], 'resuming at the very end replays nothing');
  t.same(
    none.events.map((e) => e.event),
    ['status', 'end'],
  );

  const query = await SseClient.open(`${server.url}/v1/sessions/${session.id}/logs/stream?last_event_id=0-0&from=tail&tail_bytes=0`);
  await query.untilEnd();
  t.same(query.lines('stdout'), numbered('line', 20), '?last_event_id wins over from');

  // A browser's EventSource keeps the URL it was given and sends the newest id in the header on
  // each reconnect: the header must win, or every reconnect would replay from the URL's id.
  const both = await SseClient.open(`${server.url}/v1/sessions/${session.id}/logs/stream?last_event_id=0-0`, {
    headers: { 'last-event-id': atEnd },
  });
  await both.untilEnd();
  t.same(both.output(), [], 'the Last-Event-ID header wins over ?last_event_id=');

  // An id can fall between the \r and the \n of a \r\n: resuming there is no extra empty line.
  const crlf = await startBash(server, "printf 'a\\r\\nb\\r\\n'", 'crlf');
  await waitEnded(server, crlf.id);
  const afterCR = await SseClient.open(`${server.url}/v1/sessions/${crlf.id}/logs/stream?last_event_id=2-0`);
  await afterCR.untilEnd();
  t.same(afterCR.lines('stdout'), ['b'], 'the \\n completing the \\r\\n is not a line of its own');
  t.equal(afterCR.output('stdout')[0]?.id, '6-0');
});
