// The watcher is the service: while it is down nothing is noted, the session writes on (it never
// waits for the service), and at the next start the bytes written meanwhile get one entry at the
// log's mtime. No byte is lost; only their times are approximate.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { buildApp } from '../../src/app.js';
import { decodeEntries, emptyIndexState } from '../../src/logs/time-index.js';
import { eventually, testConfig } from '../helper.js';
import { authHeaders } from './helper.js';

t.test('bytes written while the service is down: one entry at the log mtime, none lost', async (t) => {
  const config = await testConfig(t, { SESSIOND_ALLOWED_COMMANDS: 'bash' });
  const headers = authHeaders(config);
  const first = await buildApp({ config, logger: false, forceCloseConnections: true });
  const started = await first.inject({
    method: 'POST',
    url: '/v1/sessions',
    headers,
    payload: { name: 'down', working_directory: config.workspaceRoots[0], command: 'bash', args: ['-c', 'echo before; while [ ! -e go ]; do sleep 0.05; done; echo while-down; echo while-down >&2; sleep 60'] },
  });
  const session = started.json() as { id: string; pid: number; log_path: string };
  const dir = path.join(config.dataDir, 'sessions', session.id);
  const index = () => decodeEntries(emptyIndexState(), fs.readFileSync(path.join(dir, 'logs.idx'))).entries;
  await eventually(() => (fs.existsSync(path.join(dir, 'logs.idx')) && index().some((e) => e.end === 7) ? true : undefined), 20_000);
  await first.close();

  // The service is down: the session writes on, straight to its files.
  fs.writeFileSync(path.join(config.workspaceRoots[0] as string, 'go'), '');
  await eventually(() => (fs.readFileSync(session.log_path, 'utf8').includes('while-down') ? true : undefined), 20_000);
  const noted = index().length;
  const mtime = Math.floor(fs.statSync(session.log_path).mtimeMs);

  const second = await buildApp({ config, logger: false, forceCloseConnections: true });
  t.teardown(async () => {
    try {
      process.kill(-session.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
    // Let its keeper finish writing exit.json before the folders are removed.
    await eventually(() => (fs.existsSync(path.join(dir, 'run', 'exit.json')) ? true : undefined), 10_000).catch(() => undefined);
    await second.close();
  });
  await eventually(() => (index().length >= noted + 2 ? true : undefined), 20_000);
  const caught = index().slice(noted);
  const out = caught.find((e) => e.stream === 'stdout');
  t.same([out?.start, out?.end], [7, 18], 'the stdout bytes written while down: one entry');
  // Within a millisecond: fs.Stats rounds mtimeMs to a Date its own way.
  t.ok(Math.abs((out?.t ?? 0) - mtime) <= 1, `timed at the log mtime (approximate: the service was not watching): ${out?.t} vs ${mtime}`);
  t.ok(caught.some((e) => e.stream === 'stderr' && e.end === 11), 'stderr too');
  const res = await second.inject({ url: `/v1/sessions/${session.id}/logs/stdout?timestamps=true`, headers });
  const lines = res.body.split('\n').filter(Boolean);
  t.same(lines.map((l) => l.slice(25)), ['before', 'while-down'], 'every byte is there');
  t.equal(Date.parse(lines[1]?.slice(0, 24) ?? ''), out?.t, 'and the raw route shows that time');
});
