// A container session's stdin, against a real engine: launched with input, its first bytes and
// later writes reach the command in order, also from a new adapter (the service restarted); without
// input, stdin is empty and writes answer not_interactive; after the end, ended.
import t from 'tap';
import { bytesOf, dockerFixture, listen, NO_ENGINE, untilContains } from './engine.js';

t.test('input reaches stdin in order, across a restart of the service', { skip: NO_ENGINE }, async (t) => {
  const f = await dockerFixture(t);
  listen(t, f.adapter);
  // Echoes each line read, and ends after three.
  const script = 'for i in 1 2 3; do read line; echo "got $line"; done';
  const { spec, handle } = await f.launch('sh', ['-c', script], { input: true, initialInput: 'first\n' });
  await untilContains(spec.stdoutPath, 'got first\n');
  t.equal(await f.adapter.writeInput(handle, Buffer.from('second\n')), 'written', 'a write while it runs');
  await untilContains(spec.stdoutPath, 'got second\n');

  const adapter = await f.restart();
  const ends = listen(t, adapter);
  adapter.track(spec.sessionId, handle);
  t.equal(await adapter.writeInput(handle, Buffer.from('third\n')), 'written', 'a new adapter writes to the same stdin');
  const end = await ends.of(spec.sessionId);
  t.equal(end.exit_code, 0, 'it read all three lines and ended');
  t.equal((await bytesOf(spec.stdoutPath)).toString(), 'got first\ngot second\ngot third\n', 'every line once, in order');
  t.equal(await adapter.writeInput(handle, Buffer.from('late\n')), 'ended', 'after the end: ended');
});

t.test('without input stdin is empty and writes are refused', { skip: NO_ENGINE }, async (t) => {
  const f = await dockerFixture(t);
  const ends = listen(t, f.adapter);
  const { spec, handle } = await f.launch('sh', ['-c', 'echo ready; while [ ! -e go ]; do sleep 0.05; done; cat; echo "cat ended"']);
  await untilContains(spec.stdoutPath, 'ready\n');
  t.equal(await f.adapter.writeInput(handle, Buffer.from('hello\n')), 'not_interactive', 'launched without input: not_interactive');
  const { writeFile } = await import('node:fs/promises');
  await writeFile(`${f.cwd}/go`, '');
  await ends.of(spec.sessionId);
  t.equal((await bytesOf(spec.stdoutPath)).toString(), 'ready\ncat ended\n', 'cat read an empty stdin');
});

t.test('a session that does not read its stdin makes a large write busy, not a hang', { skip: NO_ENGINE }, async (t) => {
  const f = await dockerFixture(t);
  listen(t, f.adapter);
  const { spec, handle } = await f.launch('sh', ['-c', 'echo ready; exec sleep 300'], { input: true });
  await untilContains(spec.stdoutPath, 'ready\n');
  t.equal(await f.adapter.writeInput(handle, Buffer.alloc(4 * 1024 * 1024, 'y')), 'busy', '4 MiB into a pipe nobody reads');
  t.same(await f.adapter.inspect(handle), { state: 'running' }, 'the session runs on');
});
