// kill -9 of the service in the middle of a burst of 20 starts: after a restart every record is
// whole and settled, nothing is left half-written, every start that was answered is still
// there, and every live process belongs to a session shown running.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import t, { type Test } from 'tap';
import { deploy, isRunning, procStat, processesIn, readJsonWhenWritten, STATUSES, TERMINAL, type Json } from './server-process.js';
import { eventually } from '../helper.js';

async function burstThenKill(t: Test, killWhen: 'answers' | 'first-record'): Promise<void> {
  const d = await deploy(t);
  await d.start();
  const answered: Json[] = [];
  let failedInFlight = 0;
  const burst = Array.from({ length: 20 }, (_, i) =>
    d
      .startSession({ name: `burst ${i}`, args: ['-c', i % 4 === 3 ? `echo quick ${i}` : `echo burst ${i}; sleep 600`] })
      .then((res) => {
        if (res.status === 201) answered.push(res.json());
        else throw new Error(`start ${i} answered ${res.status}: ${res.text}`);
      })
      .catch((err: Error) => {
        if (/answered/.test(err.message)) throw err;
        failedInFlight++;
      }),
  );
  if (killWhen === 'answers') {
    // SIGKILL once the first few answers are in.
    await eventually(() => (answered.length >= 3 ? true : undefined), 15_000).catch(() => undefined);
  } else {
    // SIGKILL as soon as the first session folder appears: its launch is under way.
    const sessionsDir = path.join(d.dataDir, 'sessions');
    await eventually(async () => ((await readdir(sessionsDir).catch(() => [])).some((e) => !e.startsWith('.')) ? true : undefined), 15_000);
  }
  const killed = await d.server.kill('SIGKILL');
  t.equal(killed.signal, 'SIGKILL');
  await Promise.all(burst);
  t.comment(`${answered.length} starts answered before the kill, ${failedInFlight} cut off`);
  if (killWhen === 'answers') t.ok(answered.length >= 3, 'some starts were answered');

  await d.start();
  // A quick session whose command ended while the service was down but whose keeper is still
  // finishing (emptying its cgroup, writing exit.json) reads running until the keeper is done:
  // wait for the service to catch up, so "running" below means a live process.
  await eventually(async () => {
    const listed = (await d.request('GET', '/v1/sessions?limit=500')).json().items as Json[];
    for (const s of listed) if (s.status === 'running' && !(await isRunning(s.pid))) return undefined;
    return true;
  }, 15_000);
  const list = await d.request('GET', '/v1/sessions?limit=500');
  t.equal(list.status, 200);
  const items = list.json().items as Json[];
  const ids = items.map((s) => s.id as string);
  for (const s of answered) t.ok(ids.includes(s.id), `the answered start ${s.id} survived the crash`);

  for (const id of ids) {
    const res = await d.request('GET', `/v1/sessions/${id}`);
    t.equal(res.status, 200, `GET ${id}`);
    const s = res.json();
    t.ok(STATUSES.includes(s.status), `${id}: a status of the enum (${s.status})`);
    t.not(s.status, 'starting', `${id}: not left starting`);
    if (s.status === 'failed') t.type(s.status_reason, 'string', `${id}: failed, with a reason`);
    const meta = await d.request('GET', `/v1/sessions/${id}/metadata`);
    t.equal(meta.status, 200, `${id}: its metadata is whole`);
    t.equal(meta.json().id, id);
    if (s.status === 'running') {
      t.ok(await isRunning(s.pid), `${id}: running with a live pid ${s.pid}`);
      const keeper = await readJsonWhenWritten(path.join(d.stateDir(id), 'keeper.json'));
      t.equal(keeper.pid, s.pid, `${id}: the pid its keeper started`);
    } else {
      t.ok(TERMINAL.includes(s.status), `${id}: terminal (${s.status}${s.status_reason ? `: ${s.status_reason}` : ''})`);
    }
  }
  t.same((await d.request('GET', '/v1/sessions?status=starting')).json().items, [], 'none listed as starting');
  const tally = items.reduce<Record<string, number>>((acc, s) => ({ ...acc, [s.status]: (acc[s.status] ?? 0) + 1 }), {});
  t.comment(`after the restart: ${JSON.stringify(tally)}`);

  const ready = await d.request('GET', '/readyz');
  t.match(ready.json(), { status: 'ok', damaged_records: 0, sessions: ids.length });
  const entries = await readdir(path.join(d.dataDir, 'sessions'));
  t.same(entries.filter((e) => e.startsWith('.tmp-')), [], 'no half-built session folder left');
  t.same(entries.filter((e) => !e.startsWith('.')).sort(), [...ids].sort(), 'every folder is a listed session');
  const stray: string[] = [];
  for (const id of ids) {
    for (const file of await readdir(d.sessionDir(id))) if (file.endsWith('.tmp')) stray.push(`${id}/${file}`);
  }
  t.same(stray, [], 'no half-written file inside a session folder');

  // Every live process in the workspace belongs to a session shown running (it, its children,
  // or its keeper): no process runs on under a record that says it failed or ended.
  const running = items.filter((s) => s.status === 'running');
  const keepers = new Set<number>();
  for (const s of running) keepers.add((await readJsonWhenWritten(path.join(d.stateDir(s.id), 'keeper.json'))).keeper_pid);
  const groups = new Set(running.map((s) => s.pid as number));
  const orphans = await eventually(async () => {
    const found: number[] = [];
    for (const pid of await processesIn(d.root)) {
      const stat = await procStat(pid);
      if (stat && !groups.has(stat.pgrp) && !keepers.has(pid)) found.push(pid);
    }
    return found.length === 0 ? found : undefined;
  }, 5_000).catch(async () => {
    const found: string[] = [];
    for (const pid of await processesIn(d.root)) {
      const stat = await procStat(pid);
      if (stat && !groups.has(stat.pgrp) && !keepers.has(pid)) found.push(`${pid} (group ${stat.pgrp})`);
    }
    return found;
  });
  t.same(orphans, [], 'no orphan process');

  for (const s of running) {
    const stop = await d.request('POST', `/v1/sessions/${s.id}/stop`, { body: { grace_ms: 1000 } });
    t.equal(stop.status, 200);
    t.equal(stop.json().status, 'stopped');
    t.notOk(await isRunning(s.pid), `${s.id} stopped for real`);
  }
  const after = (await d.request('GET', '/v1/sessions?limit=500')).json().items as Json[];
  t.ok(after.every((s) => TERMINAL.includes(s.status)), 'all ended now');
}

t.test('SIGKILL during a burst of 20 concurrent starts, once the first answers are in', (t) => burstThenKill(t, 'answers'));
t.test('SIGKILL during a burst of 20 concurrent starts, as the first record appears', (t) => burstThenKill(t, 'first-record'));
