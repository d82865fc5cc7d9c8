// The real service says which containment is in force (issue 9, point 5): an anonymous /readyz
// names the containment its start-up log named, a cgroup where the host lets it create one (as
// this machine kind does: in CI anything else fails), and the process group when configured so.
import fs from 'node:fs/promises';
import path from 'node:path';
import t, { type Test } from 'tap';
import { findCgroupPlace } from '../../src/process/cgroup.js';
import { mustRun, skipOutsideCi } from '../must-run.js';
import { deploy, readJsonWhenWritten, type Json, type ServerProcess } from '../reliability/server-process.js';

const cgroups = findCgroupPlace('auto');
const expected = cgroups.place ? (cgroups.place.version === 2 ? 'cgroup-v2' : 'cgroup-v1') : 'process-group';
const unavailable = cgroups.place ? false : `no cgroup can be created on this host (${cgroups.reasons.join('; ')})`;

/** The one start-up log line that names the containment. */
function containmentLine(t: Test, server: ServerProcess): Json | undefined {
  const lines = server.logs().filter((line) => /^process containment: /.test(String(line.msg)));
  t.equal(lines.length, 1, 'the start-up log names the containment once');
  return lines[0];
}

/** GET /readyz with no credentials at all (it is public). */
async function readyz(server: ServerProcess): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${server.url}/readyz`);
  return { status: res.status, body: (await res.json()) as Json };
}

t.test('auto: /readyz names the cgroup containment the start-up log named', { skip: skipOutsideCi(unavailable) }, async (t) => {
  if (!mustRun(t, unavailable)) return;
  const d = await deploy(t);
  const server = await d.start();
  const line = containmentLine(t, server);
  t.equal(line?.containment, expected, `the log names ${expected}`);
  t.match(String(line?.msg), new RegExp(`^process containment: ${expected}, one cgroup per session under ${cgroups.place?.base}`));

  const ready = await readyz(server);
  t.equal(ready.status, 200, 'ready');
  t.equal(ready.body.containment, line?.containment, '/readyz names the containment the log named');
  t.equal(ready.body.containment, expected);

  // And it is the one actually used: a session runs in its own cgroup under that place.
  const session = await d.run('exec sleep 60');
  const keeper = await readJsonWhenWritten(path.join(d.stateDir(session.id as string), 'keeper.json'));
  const cgroup = String(keeper.cgroup);
  t.ok(cgroup.startsWith(`${cgroups.place?.base}/`), `the session has its own cgroup under ${cgroups.place?.base}`);
  const own = await fs.readFile(`/proc/${keeper.pid}/cgroup`, 'utf8');
  t.ok(own.includes(`/sessiond/${path.basename(cgroup)}`), 'and its process runs in it');
  await d.request('POST', `/v1/sessions/${session.id}/stop`, { body: { grace_ms: 300 } });
});

t.test('SESSIOND_CONTAINMENT=process-group: /readyz and the start-up log both say process-group', async (t) => {
  const d = await deploy(t, { env: { SESSIOND_CONTAINMENT: 'process-group' } });
  const server = await d.start();
  const line = containmentLine(t, server);
  t.equal(line?.containment, 'process-group');
  t.match(String(line?.msg), /setsid\(\) escapes a stop/, 'the log says what the process group does not contain');
  const ready = await readyz(server);
  t.equal(ready.status, 200);
  t.equal(ready.body.containment, 'process-group', '/readyz says process-group, not a cgroup');
});
