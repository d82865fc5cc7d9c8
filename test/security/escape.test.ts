// The real service: a session whose children leave its process group (setsid, setpgid(0,0))
// is stopped through the API, and nothing of it runs, or writes to its log, once the stop has
// answered `stopped`. The attack: such children survived the stop and kept writing to the log.
import fs from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { findCgroupPlace } from '../../src/process/cgroup.js';
import { eventually } from '../helper.js';
import { mustRun, skipOutsideCi } from '../must-run.js';
import { holdersOf, isDead, pidFrom } from '../process/fixture.js';
import { deploy, procStat } from '../reliability/server-process.js';

const cgroups = findCgroupPlace('auto');
/** Why the test cannot run here: it skips with this outside CI, and fails with it in CI. */
const unavailable = cgroups.place ? false : `no cgroup can be created on this host (${cgroups.reasons.join('; ')}): the process group is the only containment`;

const ESCAPE = [
  `setsid bash -c 'echo $$ > esc-setsid.pid; while :; do echo tick; sleep 0.05; done' &`,
  `perl -e '$| = 1; setpgrp(0, 0); open(my $f, ">", "esc-setpgid.pid"); print $f "$$\\n"; close $f; while (1) { print "tock\\n"; select(undef, undef, undef, 0.05) }' &`,
  'wait',
].join('\n');

t.test('stop through the API ends the children that left the group; none writes to the log after `stopped`', { skip: skipOutsideCi(unavailable) }, async (t) => {
  if (!mustRun(t, unavailable)) return;
  const d = await deploy(t);
  const server = await d.start();
  t.ok(
    server.logs().some((line) => /^process containment: cgroup-v[12]/.test(String(line.msg))),
    'the start-up log says which containment is in force',
  );
  const session = await d.run(ESCAPE);
  const escapees = [await pidFrom(path.join(d.root, 'esc-setsid.pid')), await pidFrom(path.join(d.root, 'esc-setpgid.pid'))];
  t.teardown(() => {
    for (const pid of escapees) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone, as it should be.
      }
    }
  });
  for (const pid of escapees) t.not((await procStat(pid))?.pgrp, session.pid, `${pid} left the session's process group`);
  const stdout = path.join(d.sessionDir(session.id), 'stdout.log');
  await eventually(async () => {
    const text = await fs.readFile(stdout, 'utf8');
    return text.includes('tick') && text.includes('tock') ? true : undefined;
  });

  const res = await d.request('POST', `/v1/sessions/${session.id}/stop`, { body: { grace_ms: 300 } });
  t.equal(res.status, 200);
  t.equal(res.json().status, 'stopped');
  for (const pid of escapees) t.ok(await isDead(pid), `${pid} is gone when the stop answers`);
  t.same(await holdersOf(stdout), [], 'no process holds the log open: nothing can write to it after `stopped`');
});
