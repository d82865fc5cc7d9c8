// Where a session runs, as the start body asks and the service allows (fakes): the runtime, a
// container's image from the allow-list, its limits and network, and the session fields that say
// so. Every refusal is a problem+json before anything is started.
import t from 'tap';
import { assertProblem, buildFakeApp } from '../helper.js';

type Json = Record<string, any>;
const DOCKER_ENV = { SESSIOND_RUNTIMES: 'local,docker', SESSIOND_DOCKER_IMAGES: 'busybox:sessiond-test,alpine:3', SESSIOND_ALLOWED_COMMANDS: 'sh,bash', SESSIOND_DEFAULT_MEMORY_BYTES: '67108864', SESSIOND_DEFAULT_PIDS: '64' };

t.test('a local session says so: runtime local, no image, no limits', async (t) => {
  const ctx = await buildFakeApp(t, { env: { SESSIOND_ALLOWED_COMMANDS: 'bash' } });
  const res = await ctx.app.inject({ method: 'POST', url: '/v1/sessions', payload: { name: 'here', working_directory: ctx.root, command: 'bash', args: ['-c', 'true'] } });
  t.equal(res.statusCode, 201);
  t.match(res.json(), { runtime: 'local', image: null, limits: null });
  t.equal(ctx.processes.launched.at(-1)?.runtime, 'local');
  t.equal(ctx.processes.launched.at(-1)?.container, undefined);
  t.notOk('network' in res.json(), 'the network is not a session field');
});

t.test('a docker session: the default image, default limits and no network unless asked', async (t) => {
  const ctx = await buildFakeApp(t, { env: DOCKER_ENV });
  const start = (body: Json) => ctx.app.inject({ method: 'POST', url: '/v1/sessions', payload: { name: 'boxed', working_directory: ctx.root, command: 'sh', args: ['-c', 'true'], ...body } });
  const plain = await start({ runtime: 'docker' });
  t.equal(plain.statusCode, 201, plain.body);
  t.match(plain.json(), { runtime: 'docker', image: 'busybox:sessiond-test', limits: { memory_bytes: 67108864, cpus: null, pids: 64 } });
  t.match(ctx.processes.launched.at(-1), {
    runtime: 'docker',
    command: 'sh',
    container: { image: 'busybox:sessiond-test', limits: { memoryBytes: 67108864, cpus: null, pids: 64 }, network: 'none', cwdWritable: true, mounts: [] },
  });

  const asked = await start({ runtime: 'docker', image: 'alpine:3', limits: { memory_bytes: 33554432, cpus: 0.5 }, network: 'bridge', repository_write_allowed: false });
  t.equal(asked.statusCode, 201, asked.body);
  t.match(asked.json(), { image: 'alpine:3', limits: { memory_bytes: 33554432, cpus: 0.5, pids: 64 } });
  t.match(ctx.processes.launched.at(-1)?.container, { image: 'alpine:3', network: 'bridge', cwdWritable: false });
  const got = await ctx.app.inject({ url: `/v1/sessions/${asked.json().id}` });
  t.match(got.json(), { runtime: 'docker', image: 'alpine:3' }, 'kept in the record');
});

t.test('refusals: runtime not offered, limits on local, image not allowed, bad fields', async (t) => {
  const local = await buildFakeApp(t, { env: { SESSIOND_ALLOWED_COMMANDS: 'bash' } });
  const startLocal = (body: Json) => local.app.inject({ method: 'POST', url: '/v1/sessions', payload: { name: 'x', working_directory: local.root, command: 'bash', ...body } });
  const notOffered = await startLocal({ runtime: 'docker' });
  assertProblem(t, notOffered, 400, 'validation_failed');
  t.match(notOffered.json().detail, /SESSIOND_RUNTIMES/);
  assertProblem(t, await startLocal({ limits: { memory_bytes: 67108864 } }), 400, 'limits_unsupported');
  assertProblem(t, await startLocal({ image: 'busybox' }), 400, 'validation_failed');
  assertProblem(t, await startLocal({ network: 'none' }), 400, 'validation_failed');

  const ctx = await buildFakeApp(t, { env: DOCKER_ENV });
  const start = (body: Json) => ctx.app.inject({ method: 'POST', url: '/v1/sessions', payload: { name: 'x', working_directory: ctx.root, command: 'sh', runtime: 'docker', ...body } });
  assertProblem(t, await start({ image: 'ubuntu:latest' }), 403, 'image_not_allowed');
  assertProblem(t, await start({ command: 'python3' }), 403, 'command_not_allowed');
  assertProblem(t, await start({ command: '/bin/sh' }), 403, 'command_not_allowed');
  for (const body of [
    { runtime: 'vm' },
    { network: 'host' },
    { image: 'busybox; rm -rf /' },
    { limits: { memory_bytes: 1024 } },
    { limits: { cpus: 0 } },
    { limits: { pids: 0 } },
    { limits: { swap: 1 } },
  ]) {
    assertProblem(t, await start(body), 400, 'validation_failed');
  }
  t.equal(ctx.processes.launched.length, 0, 'nothing was started');
});

t.test('configuration: docker offered without an image, a default runtime not offered, a bad host', async (t) => {
  const { loadConfig } = await import('../../src/config.js');
  t.throws(() => loadConfig({ SESSIOND_RUNTIMES: 'local,docker' }), /SESSIOND_DOCKER_IMAGES names no image/);
  t.throws(() => loadConfig({ SESSIOND_DEFAULT_RUNTIME: 'docker' }), /not in SESSIOND_RUNTIMES/);
  t.throws(() => loadConfig({ SESSIOND_RUNTIMES: 'local,vm' }), /"vm" is not one of local, docker/);
  t.throws(() => loadConfig({ SESSIOND_DOCKER_HOST: 'ssh://box' }), /SESSIOND_DOCKER_HOST/);
  t.throws(() => loadConfig({ SESSIOND_DEFAULT_CPUS: 'lots' }), /SESSIOND_DEFAULT_CPUS/);
  t.match(loadConfig({}), { runtimes: ['local'], defaultRuntime: 'local', dockerHost: 'unix:///var/run/docker.sock', dockerImages: [], defaultLimits: { memory_bytes: null, cpus: null, pids: null } });
});

t.test('delete releases what the runtime keeps for the session (a container), once it has ended', async (t) => {
  const ctx = await buildFakeApp(t, { env: DOCKER_ENV });
  const session = (await ctx.app.inject({ method: 'POST', url: '/v1/sessions', payload: { name: 'boxed', working_directory: ctx.root, command: 'sh', runtime: 'docker' } })).json();
  assertProblem(t, await ctx.app.inject({ method: 'DELETE', url: `/v1/sessions/${session.id}` }), 409, 'session_running');
  t.same(ctx.processes.released, [], 'nothing released while it runs');
  await ctx.processes.exit(session.id, 0);
  t.equal((await ctx.app.inject({ method: 'DELETE', url: `/v1/sessions/${session.id}` })).statusCode, 204);
  t.same(ctx.processes.released, [session.id], 'released with the delete');
});

t.test('a queued container session is checked again when its turn comes: an image no longer allowed fails it, nothing is launched', async (t) => {
  const ctx = await buildFakeApp(t, { env: { ...DOCKER_ENV, SESSIOND_MAX_RUNNING: '1' } });
  const start = (body: Json) => ctx.app.inject({ method: 'POST', url: '/v1/sessions', payload: { name: 'boxed', working_directory: ctx.root, command: 'sh', runtime: 'docker', ...body } });
  const first = (await start({})).json();
  const queued = await start({ image: 'alpine:3', queue: true });
  t.equal(queued.statusCode, 202, queued.body);
  t.equal(queued.json().status, 'queued');
  const launches = ctx.processes.launched.length;
  // The operator took the image off SESSIOND_DOCKER_IMAGES (as after a restart with a new list).
  (ctx.config.dockerImages as string[]).splice(ctx.config.dockerImages.indexOf('alpine:3'), 1);
  await ctx.processes.exit(first.id, 0);
  const ended = (await ctx.app.inject({ method: 'POST', url: `/v1/sessions/${queued.json().id}/wait`, payload: { timeout_ms: 5000 } })).json();
  t.equal(ended.status, 'failed', 'failed, not started');
  t.match(ended.status_reason, /alpine:3.*SESSIOND_DOCKER_IMAGES/, 'the reason names the image and the setting');
  t.equal(ctx.processes.launched.length, launches, 'nothing was launched for it');
});
