// A burst of anonymous /readyz calls against the real service over real sockets (issue 9, point 8;
// test/security/readyz-probe.test.ts shows the same on the fakes). v1 made an fsync'ed write per
// call. Seen from outside: each store probe writes a temporary file with a name of its own
// (`..probe.<pid>.<random>.tmp`) in the data directory, renames it to `.probe` and removes it;
// inotify reports those names, so the distinct temporary names seen are the probes made.
import { watch } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import t from 'tap';
import { READY_PROBE_TTL_MS } from '../../src/routes/health.js';
import { eventually } from '../helper.js';
import { deploy } from '../reliability/server-process.js';

/** GET /readyz with no credentials, on a connection of its own. */
function anonymousReadyz(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${url}/readyz`, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

t.test('200 concurrent anonymous /readyz calls over real sockets make one store probe', async (t) => {
  const d = await deploy(t);
  const server = await d.start();

  const seen = new Set<string>();
  const probeTemp = /^\.\.probe\.\d+\.[0-9a-f]+\.tmp$/;
  const watcher = watch(d.dataDir, (_event, name) => {
    if (name) seen.add(name.toString());
  });
  t.teardown(() => watcher.close());
  // The watcher is live once it reports a file the test writes itself.
  const marker = (n: number) => `watch-marker-${n}`;
  await writeFile(path.join(d.dataDir, marker(0)), '');
  await eventually(() => seen.has(marker(0)) || undefined);
  const probes = () => [...seen].filter((name) => probeTemp.test(name));
  t.same(probes(), [], 'no probe while nobody asks');

  const began = performance.now();
  const replies = await Promise.all(Array.from({ length: 200 }, () => anonymousReadyz(server.url)));
  // And 100 more, one after another.
  for (let i = 0; i < 100; i++) replies.push(await anonymousReadyz(server.url));
  const elapsed = performance.now() - began;
  t.ok(
    replies.every((r) => r.status === 200 && JSON.parse(r.body).status === 'ok'),
    `every anonymous call is answered ready (${[...new Set(replies.map((r) => r.status))].join(', ')})`,
  );

  // inotify reports in order: once a file written after the burst is seen, every probe file of
  // the burst has been reported too.
  await writeFile(path.join(d.dataDir, marker(1)), '');
  await eventually(() => seen.has(marker(1)) || undefined);
  const made = probes();
  // One probe per started 5 s: one, unless this machine took more than 5 s for the 300 calls.
  const allowed = 1 + Math.floor(elapsed / READY_PROBE_TTL_MS);
  t.ok(made.length >= 1, `the probe is seen from outside (${made.slice(0, 3).join(', ')}${made.length > 3 ? ', ...' : ''})`);
  t.ok(made.length <= allowed, `300 calls (200 at once) made ${made.length} probe write(s); at most ${allowed} in ${Math.round(elapsed)} ms (v1: 300)`);
  t.ok(seen.has('.probe'), 'and each probe renamed its file to .probe');
});
