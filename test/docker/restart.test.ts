// A container session outlives the service, against a real engine: after a kill -9 of the process
// that launched it, a new adapter adopts it (recover from the state folder, find by label), copies
// the output written while the service was down and after, byte for byte, and hears its end with
// the right exit code, also when it ended while nobody watched. Delete removes the container; a
// launch that cannot start leaves none behind.
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { LaunchError } from '../../src/process/adapter.js';
import { SESSION_LABEL, type DockerProcessHandle } from '../../src/process/docker.js';
import { bytesOf, DOCKER_HOST, dockerFixture, IMAGE, listen, NO_ENGINE, untilContains, type DockerFixture } from './engine.js';

const DOCKER_JS = fileURLToPath(new URL('../../src/process/docker.js', import.meta.url));

/** Launches `spec` from a separate node process (the service), then kills that process with SIGKILL once `ready` is in stdout. */
async function launchThenKill9(f: DockerFixture, command: string, args: string[], ready: string) {
  const spec = f.spec(command, args);
  const code = `
    import { createDockerProcessAdapter } from ${JSON.stringify(DOCKER_JS)};
    const files = ${JSON.stringify({ stdout: spec.stdoutPath, stderr: spec.stderrPath, stateDir: spec.stateDir })};
    const adapter = createDockerProcessAdapter({ host: ${JSON.stringify(DOCKER_HOST)}, defaultImage: ${JSON.stringify(IMAGE)}, files: () => files });
    const handle = await adapter.launch(${JSON.stringify(spec)});
    adapter.track(${JSON.stringify(spec.sessionId)}, handle);
    process.stdout.write(JSON.stringify(handle) + '\\n');
    setInterval(() => {}, 1000);
  `;
  const service = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => service.once('exit', resolve));
  let text = '';
  const handle = await new Promise<DockerProcessHandle>((resolve, reject) => {
    service.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('\n')) resolve(JSON.parse(text.slice(0, text.indexOf('\n'))) as DockerProcessHandle);
    });
    service.once('exit', (code) => reject(new Error(`the service exited (${code}) before launching`)));
  });
  f.remember(handle);
  await untilContains(spec.stdoutPath, ready);
  service.kill('SIGKILL');
  await exited;
  return { spec, handle };
}

/** The engine's HTTP status for `request`: 200 when it succeeds. */
const statusOf = (request: Promise<unknown>): Promise<number | undefined> =>
  request.then(
    () => 200,
    (err: { statusCode?: number }) => err.statusCode,
  );

/** Creates `name` in the working directory: the container waits for these files. */
const go = (f: DockerFixture, name: string) => fs.writeFile(path.join(f.cwd, name), '');

t.test('after a kill -9 of the service it is adopted: output while down and after, byte-exact, and its end', { skip: NO_ENGINE }, async (t) => {
  const f = await dockerFixture(t);
  const script = [
    'echo before',
    'while [ ! -e go1 ]; do sleep 0.05; done',
    `printf 'while down\\n'; printf 'err while down\\n' >&2`,
    'while [ ! -e go2 ]; do sleep 0.05; done',
    `printf 'after'; printf 'err after' >&2`,
    'exit 7',
  ].join('; ');
  const { spec, handle } = await launchThenKill9(f, 'sh', ['-c', script], 'before\n');
  await go(f, 'go1');
  // The container writes on with nobody attached: its output goes to the engine's log only.
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.equal((await bytesOf(spec.stdoutPath)).toString(), 'before\n', 'nothing reached the files while the service was down');

  const adapter = await f.restart();
  const ends = listen(t, adapter);
  const recovered = await adapter.find(spec.sessionId);
  t.same(recovered && [recovered.container_id, recovered.stdout_path], [handle.container_id, spec.stdoutPath], 'find adopts the container by the session id (its state folder names it)');
  t.same(await adapter.inspect(recovered!), { state: 'running' }, 'still running');
  adapter.track(spec.sessionId, recovered!);
  await untilContains(spec.stdoutPath, 'while down\n');
  await go(f, 'go2');
  const end = await ends.of(spec.sessionId);
  t.same([end.exit_code, end.exit_signal], [7, null], 'its end, with its exit code');
  t.equal((await bytesOf(spec.stdoutPath)).toString(), 'before\nwhile down\nafter', 'stdout: every byte once, in order');
  t.equal((await bytesOf(spec.stderrPath)).toString(), 'err while down\nerr after', 'stderr too');
});

t.test('an end that happened while the service was down is heard, with its exit code and all output', { skip: NO_ENGINE }, async (t) => {
  const f = await dockerFixture(t);
  const { spec, handle } = await launchThenKill9(f, 'sh', ['-c', 'echo before; while [ ! -e go ]; do sleep 0.05; done; echo gone; exit 5'], 'before\n');
  await go(f, 'go');
  await f.engine.getContainer(handle.container_id).wait();

  const adapter = await f.restart();
  const ends = listen(t, adapter);
  // As if the service had died before noting the container: only its label names the session.
  await fs.rm(path.join(spec.stateDir, 'container.json'));
  const found = await adapter.find(spec.sessionId);
  t.equal(found?.container_id, handle.container_id, 'find adopts it by its label');
  adapter.track(spec.sessionId, found!);
  const end = await ends.of(spec.sessionId);
  t.same([end.exit_code, end.exit_signal], [5, null], 'ended with exit code 5');
  t.equal((await bytesOf(spec.stdoutPath)).toString(), 'before\ngone\n', 'with the output it wrote while the service was down');
});

t.test('release (delete) removes the container; find no longer sees it', { skip: NO_ENGINE }, async (t) => {
  const f = await dockerFixture(t);
  listen(t, f.adapter);
  const { spec, handle } = await f.launch('sleep', ['300']);
  const labelled = await f.engine.listContainers({ all: true, filters: { label: [`${SESSION_LABEL}=${spec.sessionId}`] } });
  t.same(labelled.map((c) => c.Id), [handle.container_id], `the container carries ${SESSION_LABEL}=<session id>`);
  await f.adapter.release(handle);
  t.equal(await statusOf(f.engine.getContainer(handle.container_id).inspect()), 404, 'the container is gone, running or not');
  t.equal(await f.adapter.find(spec.sessionId), null, 'find sees nothing');
  await f.adapter.release(handle);
  t.pass('releasing again is a no-op');
  t.same(await f.adapter.inspect(handle), { state: 'ended', exit_code: null, exit_signal: null, ended_at: null }, 'inspect: ended, status unknown');
});

t.test('a launch that cannot start fails with a reason and leaves no container', { skip: NO_ENGINE }, async (t) => {
  const f = await dockerFixture(t);
  const cases: Array<[string, Parameters<DockerFixture['spec']>, RegExp]> = [
    ['a missing command', ['no-such-command', []], /^command not found: no-such-command/],
    ['a missing absolute path', ['/bin/nope', []], /^command not found: \/bin\/nope/],
    ['a file that is not executable', ['/etc/passwd', []], /^command not executable: \/etc\/passwd/],
    ['a missing image', ['sh', [], { container: { image: 'sessiond-no-such-image:1' } }], /^image not found: sessiond-no-such-image:1/],
  ];
  for (const [what, args, reason] of cases) {
    const spec = f.spec(...args);
    const failure = await f.adapter.launch(spec).then(
      () => null,
      (err: unknown) => err,
    );
    t.ok(failure instanceof LaunchError, `${what}: LaunchError`);
    t.match((failure as Error | null)?.message, reason, `${what}: says why`);
    const left = await f.engine.listContainers({ all: true, filters: { label: [`${SESSION_LABEL}=${spec.sessionId}`] } });
    t.same(left, [], `${what}: no container left`);
  }
  const missing = f.spec('sh', [], { cwd: path.join(f.dir, 'absent') });
  await t.rejects(f.adapter.launch(missing), /working directory does not exist/, 'a missing working directory');
});

t.test('find: a container made but never started (the service died in between) is removed, not adopted', { skip: NO_ENGINE }, async (t) => {
  const f = await dockerFixture(t);
  const spec = f.spec('sh', ['-c', 'echo should not run']);
  const made = await f.engine.createContainer({ Image: IMAGE, Entrypoint: ['sh'], Labels: { [SESSION_LABEL]: spec.sessionId }, HostConfig: { NetworkMode: 'none' } });
  await fs.mkdir(spec.stateDir, { recursive: true });
  await fs.writeFile(path.join(spec.stateDir, 'container.json'), JSON.stringify({ container_id: made.id, session_id: spec.sessionId, stdoutPath: spec.stdoutPath, stderrPath: spec.stderrPath }));
  t.equal(await f.adapter.find(spec.sessionId), null, 'nothing to adopt');
  t.equal(await statusOf(made.inspect()), 404, 'and the container is gone');
  t.equal(await f.adapter.find(`${spec.sessionId}-other`), null, 'no state folder and no container: nothing to adopt');
});

t.test("a handle that names a container not of its session (a damaged or forged record) touches nothing", { skip: NO_ENGINE }, async (t) => {
  const f = await dockerFixture(t);
  listen(t, f.adapter);
  const { spec, handle } = await f.launch('sleep', ['300']);
  // Another session's handle, pointed at this container.
  const forged = { ...handle, session_id: `${spec.sessionId}-other` };
  t.same(await f.adapter.inspect(forged), { state: 'ended', exit_code: null, exit_signal: null, ended_at: null }, 'inspect: not there');
  t.equal(await f.adapter.signal(forged, 'SIGTERM'), false, 'signal: nothing sent');
  t.equal(await f.adapter.writeInput(forged, Buffer.from('x')), 'ended', 'input: nothing written');
  await f.adapter.terminate(forged, 100);
  await f.adapter.release(forged);
  t.same(await f.adapter.inspect(handle), { state: 'running' }, 'the container still runs after terminate and release');
});
