// The Dockerfile cannot be built here (no Docker engine), so its promises are checked as text,
// and its HEALTHCHECK command is run for real against the server it would check.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { buildApp } from '../src/app.js';
import { testConfig } from './helper.js';

const run = promisify(execFile);

t.test('multi-stage, CI’s build, production dependencies, non-root, volume, healthcheck, npm start', async (t) => {
  const text = await fs.readFile(path.join(process.cwd(), 'Dockerfile'), 'utf8');
  const stages = text.split(/^FROM /m).slice(1);
  t.equal(stages.length, 2, 'two stages');
  const [build = '', runtime = ''] = stages;
  t.match(build, /^RUN npm ci$/m, 'the build stage runs npm ci, which builds through prepare, as CI does');
  const pkg = JSON.parse(await fs.readFile(path.join(process.cwd(), 'package.json'), 'utf8'));
  t.equal(pkg.scripts.prepare, 'npm run build', 'npm ci builds');
  t.match(runtime, /npm ci --omit=dev/, 'production dependencies only');
  t.match(runtime, /COPY --from=\S+ \/app\/dist/, 'the built code comes from the build stage');
  t.match(runtime, /^USER (?!root)\S+/m, 'a non-root user');
  t.match(runtime, /SESSIOND_HOST=0\.0\.0\.0/);
  t.match(runtime, /^VOLUME \["\/data"\]/m, 'a volume for the data directory');
  t.match(runtime, /SESSIOND_DATA_DIR=\/data/);
  t.match(runtime, /^HEALTHCHECK .*\/healthz/ms);
  t.match(runtime, /^CMD \["npm", "start"\]/m);
});

t.test('a maintained Node LTS base image in both stages, and the sessiond command on the PATH', async (t) => {
  const text = await fs.readFile(path.join(process.cwd(), 'Dockerfile'), 'utf8');
  const bases = [...text.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
  t.equal(bases.length, 2);
  // Node 20 reached end of life on 2026-04-30; 22 is maintained until 2027-04, 24 until 2028-04.
  for (const base of bases) t.match(base, /^node:(22|24)-bookworm-slim\b/, `${base} is a maintained LTS line`);
  t.equal(bases[0], bases[1]?.replace(/ AS .*/, ''), 'built and run on the same Node');
  const pkg = JSON.parse(await fs.readFile(path.join(process.cwd(), 'package.json'), 'utf8'));
  t.match(text, new RegExp(`ln -s /app/${pkg.bin.sessiond.replace(/\./g, '\\.')} /usr/local/bin/sessiond`), 'the bin of package.json, linked onto the PATH');
});

t.test('the HEALTHCHECK command passes against a running server and fails without one', async (t) => {
  const text = await fs.readFile(path.join(process.cwd(), 'Dockerfile'), 'utf8');
  const match = /CMD \["node", "-e", "(.+)"\]\s*$/m.exec(text.split('HEALTHCHECK')[1] ?? '');
  t.ok(match, 'the healthcheck is a node one-liner');
  const script = (match?.[1] ?? '').replace(/\\"/g, '"');
  const app = await buildApp({ config: await testConfig(t), logger: false, forceCloseConnections: true });
  t.teardown(() => app.close());
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = String((app.server.address() as { port: number }).port);
  const ok = await run(process.execPath, ['-e', script], { env: { SESSIOND_PORT: port }, timeout: 20000 }).then(() => 0, (e: { code: number }) => e.code);
  t.equal(ok, 0, 'healthy');
  await app.close();
  const down = await run(process.execPath, ['-e', script], { env: { SESSIOND_PORT: port }, timeout: 20000 }).then(() => 0, (e: { code: number }) => e.code);
  t.equal(down, 1, 'unhealthy when nothing answers');
});

t.test('the build stage can compile the native keeper and launcher that the build script makes', async (t) => {
  const text = await fs.readFile(path.join(process.cwd(), 'Dockerfile'), 'utf8');
  const [build = ''] = text.split(/^FROM /m).slice(1);
  const pkg = JSON.parse(await fs.readFile(path.join(process.cwd(), 'package.json'), 'utf8'));
  t.match(pkg.scripts.build, /\bcc .*src\/process\/keeper\.c/, 'npm run build compiles keeper.c');
  t.match(pkg.scripts.build, /\bcc .*src\/process\/launcher\.c/, 'and launcher.c');
  t.match(build, /apt-get install .*\bgcc\b.*\blibc6-dev\b/, 'the slim image gets a compiler before npm ci');
  t.ok(build.indexOf('apt-get install') < build.indexOf('RUN npm ci'), 'installed before the build runs');
});
