// Container sessions through the whole service (real app over HTTP, real engine): a start with
// runtime docker, the session's fields, its logs byte for byte through the log routes, a memory
// kill read as SIGKILL with a reason, an agent session in a container (stream-json parsed, input
// answered), delete taking the container with it, and the same time, order, resume and cap of
// logs as a local session's.
import fs from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { startServer, type Server } from '../e2e/helper.js';
import { engineFromHost } from '../../src/process/docker.js';
import { DOCKER_HOST, IMAGE, NO_ENGINE } from './engine.js';
import { request, SseClient, startRealServer, waitEnded } from '../streaming/helper.js';

const AGENT_ID = '0b9d5a7e-1c2f-4e3a-9b8c-7d6e5f4a3b2c';
/** A claude stand-in for busybox sh: init, then an answer per stdin message, a result on "bye". */
const CLAUDE = `#!/bin/sh
echo '{"type":"system","subtype":"init","session_id":"${AGENT_ID}","model":"stand-in","cwd":"/","tools":[]}'
while IFS= read -r line; do
  case "$line" in
    *'"content":"bye"'*) echo '{"type":"result","subtype":"success","is_error":false,"result":"bye then","num_turns":2,"session_id":"${AGENT_ID}","total_cost_usd":0.01,"duration_ms":5}'; exit 0;;
  esac
  echo '{"type":"assistant","message":{"role":"assistant","content":[{"type":"text","text":"heard"}]},"session_id":"${AGENT_ID}"}'
done
`;

async function dockerServer(t: Parameters<typeof startServer>[0]): Promise<Server> {
  return startServer(t, {
    env: { SESSIOND_RUNTIMES: 'local,docker', SESSIOND_DOCKER_HOST: DOCKER_HOST, SESSIOND_DOCKER_IMAGES: IMAGE, SESSIOND_ALLOWED_COMMANDS: '*' },
  });
}

t.test('a docker session through the API: fields, logs byte for byte, exit code, delete removes the container', { skip: NO_ENGINE }, async (t) => {
  const s = await dockerServer(t);
  const res = await s.start({ command: 'sh', args: ['-c', 'printf "out\\nno newline"; printf "err\\n" >&2; exit 4'], runtime: 'docker' });
  t.equal(res.status, 201, res.text);
  t.match(res.json(), { runtime: 'docker', image: IMAGE, limits: { memory_bytes: null, cpus: null, pids: null } });
  const ended = await s.waitEnded(res.json().id);
  t.match(ended, { status: 'exited', exit_code: 4, exit_signal: null });
  t.equal((await s.request('GET', `/v1/sessions/${ended.id}/logs/stdout`)).text, 'out\nno newline');
  t.equal((await s.request('GET', `/v1/sessions/${ended.id}/logs/stderr`)).text, 'err\n');
  const containers = async () => engineFromHost(DOCKER_HOST).listContainers({ all: true, filters: { label: [`sessiond.session=${ended.id}`] } });
  t.equal((await containers()).length, 1, 'its container is kept while the session is');
  t.equal((await s.request('DELETE', `/v1/sessions/${ended.id}`)).status, 204);
  t.equal((await containers()).length, 0, 'delete removed the container');
});

t.test('a memory kill reads SIGKILL with a status_reason naming memory', { skip: NO_ENGINE }, async (t) => {
  const s = await dockerServer(t);
  const res = await s.start({ command: 'sh', args: ['-c', "x=$(head -c 200000000 /dev/zero | tr '\\0' a)"], runtime: 'docker', limits: { memory_bytes: 32 * 1024 * 1024 } });
  t.equal(res.status, 201, res.text);
  const ended = await s.waitEnded(res.json().id);
  t.match(ended, { status: 'exited', exit_code: null, exit_signal: 'SIGKILL', limits: { memory_bytes: 32 * 1024 * 1024 } });
  t.match(ended.status_reason, /memory/);
});

t.test('an agent session in a container: stream-json parsed, input answered, the summary at the end', { skip: NO_ENGINE }, async (t) => {
  const s = await dockerServer(t);
  const project = path.join(s.root, 'project');
  await fs.mkdir(project);
  const claude = path.join(project, 'claude');
  await fs.writeFile(claude, CLAUDE, { mode: 0o755 });
  const res = await s.request('POST', '/v1/sessions', {
    body: { name: 'boxed agent', working_directory: project, command: claude, prompt: 'hello', runtime: 'docker', agent: { kind: 'claude', input: true } },
  });
  t.equal(res.status, 201, res.text);
  const id = res.json().id as string;
  const messages = async () => (await s.request('GET', `/v1/sessions/${id}/agent/messages`)).json().items as Array<{ type: string }>;
  for (let i = 0; (await messages()).length < 2; i++) {
    if (i > 400) throw new Error('the agent never answered its prompt');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  t.same((await messages()).map((m) => m.type), ['system', 'assistant'], 'init, and the answer to the prompt it read on stdin');
  const sent = await s.request('POST', `/v1/sessions/${id}/input`, { body: { text: 'bye' } });
  t.equal(sent.status, 200, sent.text);
  const ended = await s.waitEnded(id);
  t.match(ended, { status: 'exited', exit_code: 0, agent: { session_id: AGENT_ID, result: 'bye then', num_turns: 2 } });
  t.same((await messages()).map((m) => m.type), ['system', 'assistant', 'result']);
});

t.test("a container session's logs have the same time, order, resume and cap as a local one's", { skip: NO_ENGINE }, async (t) => {
  const server = await startRealServer(t, {
    SESSIOND_RUNTIMES: 'local,docker',
    SESSIOND_DOCKER_HOST: DOCKER_HOST,
    SESSIOND_DOCKER_IMAGES: IMAGE,
    SESSIOND_ALLOWED_COMMANDS: '*',
    SESSIOND_MAX_LOG_BYTES: '65536',
  });
  // Alternating streams, 150 ms apart, then 200 KB of numbered lines: over the 64 KiB cap.
  const script = 'for i in 1 2 3 4; do echo "out $i"; sleep 0.15; echo "err $i" >&2; sleep 0.15; done; i=0; while [ $i -lt 2000 ]; do echo "bulk $i $(printf %080d 0)"; i=$((i+1)); done';
  const started = await request(`${server.url}/v1/sessions`, { method: 'POST', body: { name: 'boxed logs', working_directory: server.root, command: 'sh', args: ['-c', script], runtime: 'docker' } });
  t.equal(started.status, 201, started.body.toString());
  const id = started.json<{ id: string }>().id;
  // Followed live from the start: every line, in written order across both streams.
  const live = await SseClient.open(`${server.url}/v1/sessions/${id}/logs/stream?from=start`);
  await live.untilEnd(60_000);
  const ended = await waitEnded(server, id);
  t.match(ended, { status: 'exited', exit_code: 0, runtime: 'docker' });
  await server.app.logIndexer.settled(id);
  const lines = live.events.filter((e) => e.event === 'stdout' || e.event === 'stderr').flatMap((e) => e.data.split('\n').map((line) => `${e.event}:${line}`));
  t.same(lines.slice(0, 8), [1, 2, 3, 4].flatMap((i) => [`stdout:out ${i}`, `stderr:err ${i}`]), 'written order across both streams');
  t.equal(lines.at(-1), `stdout:bulk 1999 ${'0'.repeat(80)}`, 'to the last line');

  // The cap dropped the oldest stdout bytes, keeping offsets absolute.
  const tail = (await request(`${server.url}/v1/sessions/${id}/logs?tail_bytes=100`)).json<Record<string, number>>();
  t.ok((tail.stdout_retained_from ?? 0) > 0, `stdout was cut under the cap (retained from ${tail.stdout_retained_from})`);

  // Timestamps of writing: the alternating lines are 150 ms apart (+-), not read at once.
  const timed = await SseClient.open(`${server.url}/v1/sessions/${id}/logs/stream?from=start&streams=stderr&timestamps=true`);
  await timed.untilEnd(30_000);
  const times = timed.lines('stderr').map((line) => Date.parse(line.slice(0, 24)));
  t.equal(times.length, 4, 'the four stderr lines, each with its time');
  t.ok(times.every((time, i) => i === 0 || time - (times[i - 1] as number) >= 150), `stamped when written, about 300 ms apart: ${times.map((x) => x - (times[0] as number)).join(', ')}`);

  // Resume from an event id: exactly what came after it.
  const first = live.events.find((e) => e.event === 'stdout' && e.data === 'out 1');
  const resumed = await SseClient.open(`${server.url}/v1/sessions/${id}/logs/stream`, { headers: { 'last-event-id': first?.id ?? '' } });
  await resumed.untilEnd(30_000);
  t.same(resumed.lines('stderr').slice(0, 2), ['err 1', 'err 2'], 'resumed right after the event it names');
});
