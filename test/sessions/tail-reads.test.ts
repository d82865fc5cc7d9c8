// The logs tail (GET /v1/sessions/{id}/logs) reads only: it answers status and last_activity from
// what the service knows (the watch), with no process check per request, and it measures the logs
// only as far as reading their last bytes needs (issue 8, point 1: "GET, list and the logs tail
// answer from what the service knows, with no /proc read and no stat per request").
//
// Why a bound on logStat and not zero: the tail returns the last tail_bytes of each log and its
// size, so it must find each log's current end, and the store's logStat is how it reads that (one
// per stream). What the issue removes is the stat v1 made on top of that to derive last_activity
// from the logs' mtimes (reconcile on read: two more stats and a process check per request).
// So: no inspect at all, at most one logStat per stream per request, and last_activity from the
// watch's clock rather than from any mtime.
import { AsyncLocalStorage } from 'node:async_hooks';
import t from 'tap';
import { buildFakeApp, eventually, type FakeApp } from '../helper.js';

async function start(ctx: FakeApp): Promise<string> {
  const res = await ctx.app.inject({ method: 'POST', url: '/v1/sessions', payload: { name: 'tailed', working_directory: ctx.root, command: 'bash', args: [] } });
  if (res.statusCode !== 201) throw new Error(`start failed: ${res.body}`);
  return res.json().id as string;
}

/**
 * Counts the store's log measurements made on behalf of requests sent through `tail()`. The log
 * watch measures logs too, in the background, after each write (the indexer, the activity watch);
 * those run in their own async context, so AsyncLocalStorage tells them apart from a request's.
 */
function countRequestLogStats(ctx: FakeApp) {
  const inRequest = new AsyncLocalStorage<{ stats: number }>();
  const realStat = ctx.store.logStat.bind(ctx.store);
  ctx.store.logStat = async (...args) => {
    const current = inRequest.getStore();
    if (current) current.stats += 1;
    return realStat(...args);
  };
  return {
    /** One GET of the tail, and how many log measurements it made. */
    async tail(url: string) {
      const counter = { stats: 0 };
      // inject answers a lazy thenable: it must be awaited inside run() for the request to start there.
      const res = await inRequest.run(counter, async () => await ctx.app.inject({ url }));
      return { res, stats: counter.stats };
    },
  };
}

const N = 20;

t.test('the logs tail makes no process check and measures each log at most once per request', async (t) => {
  const ctx = await buildFakeApp(t);
  const id = await start(ctx);
  await ctx.processes.write(id, 'stdout', 'line one\nline two\n');
  await ctx.processes.write(id, 'stderr', 'warn\n');
  const inspections = ctx.processes.inspections;
  const counted = countRequestLogStats(ctx);

  let total = 0;
  for (let i = 0; i < N; i++) {
    const { res, stats } = await counted.tail(`/v1/sessions/${id}/logs?tail_bytes=${i % 2 === 0 ? 9 : 4096}`);
    total += stats;
    t.ok(stats <= 2, `one measurement per stream at most (${stats})`);
    t.equal(res.statusCode, 200);
    const body = res.json();
    t.equal(body.status, 'running');
    t.equal(body.stdout, i % 2 === 0 ? 'line two\n' : 'line one\nline two\n', 'the tail still reads the log bytes');
    t.equal(body.stdout_bytes, 18);
    t.equal(body.stderr, 'warn\n');
  }
  t.equal(ctx.processes.inspections, inspections, `no process check for ${N} tails`);
  t.ok(total > 0, 'the counter sees the measurements a tail makes (so the bound above means something)');
});

t.test('the tail answers from what the watch told, not from the process: an end not yet seen is not found by reading', async (t) => {
  const ctx = await buildFakeApp(t);
  const id = await start(ctx);
  await ctx.processes.write(id, 'stdout', 'partial\n');
  // The process ends but the watch has not said so (untracked: no notice reaches the supervisor).
  // A tail that checked the process would find it ended and record it; one that reads only does not.
  ctx.processes.untrack(id);
  await ctx.processes.exit(id, 3);
  const inspections = ctx.processes.inspections;
  for (let i = 0; i < N; i++) {
    const res = await ctx.app.inject({ url: `/v1/sessions/${id}/logs` });
    t.equal(res.statusCode, 200);
    t.equal(res.json().status, 'running', 'the status the service knows');
  }
  t.equal(ctx.processes.inspections, inspections, 'no process check');
  t.equal((await ctx.store.get(id))?.status, 'running', 'nothing was recorded by a read');
  t.notOk(ctx.journal.all().some((e) => e.session.id === id && e.type === 'session.ended'), 'no event came from a read');
});

t.test("the tail's last_activity is the watch's, not a log file's mtime", async (t) => {
  // A fake clock a year away from the real one: the memory store stamps its logs' mtimes with the
  // real time, so an mtime could never be this value.
  let now = Date.parse('2027-06-01T10:00:00.000Z');
  const ctx = await buildFakeApp(t, { clock: () => new Date(now) });
  const id = await start(ctx);
  now += 90_000;
  await ctx.processes.write(id, 'stdout', 'late output\n');
  const expected = '2027-06-01T10:01:30.000Z';
  // The watch records activity from the log change; wait for it through GET (a read, no stat).
  await eventually(async () => ((await ctx.app.inject({ url: `/v1/sessions/${id}` })).json().last_activity === expected ? true : undefined), 5000);
  const { res, stats } = await countRequestLogStats(ctx).tail(`/v1/sessions/${id}/logs`);
  const tail = res.json();
  t.equal(tail.last_activity, expected, 'from the watch');
  t.equal(tail.stdout, 'late output\n');
  t.ok(stats <= 2, `the tail measured each log at most once (${stats})`);
});
