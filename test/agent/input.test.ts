// Agent input with real processes: the real server (node dist/src/server.js), real keepers and a
// stand-in claude that reads stream-json user messages from stdin. The prompt arrives as the first
// message, each POST .../input is answered, the pipe survives a kill -9 of the service (input
// before and after it), and an ended session refuses input clearly.
import fs from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { eventually } from '../helper.js';
import { deploy, type Deployment, type Json } from '../reliability/server-process.js';
import { init } from './fixtures.js';
import { installStandIn, standInArgs } from './stand-in.js';

async function texts(d: Deployment, id: string): Promise<string[]> {
  const page = (await d.request('GET', `/v1/sessions/${id}/agent/messages?limit=500`)).json();
  return (page.items as Json[]).flatMap((item) => (item.type === 'assistant' ? [item.message.message.content[0].text as string] : []));
}

/** Waits until the agent has answered `count` assistant messages; returns their texts. */
const answered = (d: Deployment, id: string, count: number) =>
  eventually(async () => {
    const got = await texts(d, id);
    return got.length >= count ? got : undefined;
  }, 20_000);

t.test('input: the prompt first, then each POST; the pipe outlives a kill -9 of the service', async (t) => {
  const claude = await installStandIn(t);
  const d = await deploy(t, { env: { SESSIOND_ALLOWED_COMMANDS: 'claude,bash', PATH: `${claude.bin}:${process.env.PATH ?? ''}` } });
  await d.start();
  await claude.scenario('hello', [{ line: JSON.stringify(init) }, { line: JSON.stringify({ type: 'assistant', session_id: '@SESSION@', message: { role: 'assistant', content: [{ type: 'text', text: 'hello to you' }] } }) }]);
  const dir = path.join(d.root, 'chat');
  await fs.mkdir(dir);

  const started = await d.request('POST', '/v1/sessions', {
    body: { name: 'chat', working_directory: dir, command: 'claude', prompt: 'hello', agent: { kind: 'claude', input: true } },
  });
  t.equal(started.status, 201, started.text);
  const id = started.json().id as string;
  t.same(await answered(d, id, 1), ['hello to you'], 'the prompt was the first message on stdin');
  const args = (await standInArgs(dir))[0] ?? [];
  t.ok(args.includes('--input-format') && !args.includes('--'), 'claude got --input-format stream-json and no prompt argument');

  const first = await d.request('POST', `/v1/sessions/${id}/input`, { body: { text: 'before the crash' } });
  t.equal(first.status, 200, first.text);
  t.same(await answered(d, id, 2), ['hello to you', 'heard: before the crash']);

  await d.restart('SIGKILL');
  t.equal((await d.request('GET', `/v1/sessions/${id}`)).json().status, 'running', 'the session ran on through the crash');
  const after = await d.request('POST', `/v1/sessions/${id}/input`, {
    body: { message: { type: 'user', message: { role: 'user', content: [{ type: 'text', text: 'after the restart' }] }, parent_tool_use_id: null, session_id: '' } },
  });
  t.equal(after.status, 200, after.text);
  t.same(await answered(d, id, 3), ['hello to you', 'heard: before the crash', 'heard: after the restart'], 'the same pipe, read by the same process');
  t.equal((await standInArgs(dir)).length, 1, 'claude was started once');

  const plain = await d.run('sleep 30');
  const refused = await d.request('POST', `/v1/sessions/${plain.id}/input`, { body: { text: 'x' } });
  t.equal(refused.status, 409);
  t.equal(refused.json().code, 'session_not_interactive');

  const stopped = await d.request('POST', `/v1/sessions/${id}/stop`);
  t.equal(stopped.json().status, 'stopped');
  const late = await d.request('POST', `/v1/sessions/${id}/input`, { body: { text: 'too late' } });
  t.equal(late.status, 409);
  t.equal(late.json().code, 'session_not_running');
  t.match(late.json().detail, /stopped/);
  await fs.access(path.join(d.stateDir(id), 'stdin')).then(
    () => t.fail('the stdin pipe is still there'),
    () => t.pass('the keeper removed the stdin pipe at the end'),
  );
  await d.request('POST', `/v1/sessions/${plain.id}/stop`);
});

t.test('an ended interactive session whose end is not yet recorded: input is refused, never hangs', async (t) => {
  const claude = await installStandIn(t);
  const d = await deploy(t, { env: { SESSIOND_ALLOWED_COMMANDS: 'claude,bash', PATH: `${claude.bin}:${process.env.PATH ?? ''}` } });
  await d.start();
  await claude.scenario('quit', [{ exit: 3 }]);
  const started = await d.request('POST', '/v1/sessions', {
    body: { name: 'quits', working_directory: d.root, command: 'claude', prompt: 'quit', agent: { kind: 'claude', input: true } },
  });
  const id = started.json().id as string;
  const ended = await d.waitEnded(id);
  t.match(ended, { status: 'exited', exit_code: 3 });
  const res = await d.request('POST', `/v1/sessions/${id}/input`, { body: { text: 'anyone?' } });
  t.equal(res.status, 409);
  t.equal(res.json().code, 'session_not_running');
});
