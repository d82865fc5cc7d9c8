// 40 short sessions and 120 operations racing them (reads, stops, waits, log reads), all at once
// against the real server: no 5xx, every session ends listed and terminal, no status goes back
// once an answer said the session had ended, and every end is one consistent terminal status.
import t from 'tap';
import { deploy, TERMINAL, type Json, type Reply } from './server-process.js';

/** mulberry32: a small seeded generator, so a failing run can be replayed with its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

interface Observation {
  op: string;
  sent: number;
  received: number;
  code: number;
  /** The session status the answer carried, when it carries one. */
  status?: string;
  /** The whole Session, when the answer is one. */
  session?: Json;
}

const OPS = ['get', 'stop', 'wait', 'logs', 'stdout'] as const;
type Op = (typeof OPS)[number];

t.test('40 starts and 120 racing operations', async (t) => {
  const seed = Number(process.env.RACE_SEED ?? Date.now() % 1_000_000);
  t.comment(`seed ${seed} (RACE_SEED=${seed} replays it)`);
  const random = rng(seed);
  const d = await deploy(t, { env: { SESSIOND_RATE_LIMIT: '100000' } });
  await d.start();

  const seen = new Map<string, Observation[]>();
  const codes: Array<{ what: string; code: number; body: string }> = [];
  const observe = (id: string, op: string, sent: number, res: Reply): void => {
    const received = performance.now();
    codes.push({ what: `${op} ${id}`, code: res.status, body: res.text.slice(0, 300) });
    const obs: Observation = { op, sent, received, code: res.status };
    if (res.status === 200 && op !== 'stdout') {
      const body = res.json();
      obs.status = body.status;
      if (op !== 'logs') obs.session = body;
    }
    seen.set(id, [...(seen.get(id) ?? []), obs]);
  };

  const starts = Array.from({ length: 40 }, (_, i) =>
    d.startSession({ name: `race ${i}`, args: ['-c', 'sleep 0.$RANDOM; echo hi'] }).then((res) => {
      codes.push({ what: `start ${i}`, code: res.status, body: res.text.slice(0, 300) });
      if (res.status !== 201) throw new Error(`start ${i} answered ${res.status}: ${res.text}`);
      return res.json() as Json;
    }),
  );

  const plan = Array.from({ length: 120 }, () => ({
    target: Math.floor(random() * 40),
    op: OPS[Math.floor(random() * OPS.length)] as Op,
    delay: Math.floor(random() * 700),
    grace: Math.floor(random() * 50),
    timeout: Math.floor(random() * 300),
  }));
  const operations = plan.map(async ({ target, op, delay, grace, timeout }) => {
    const session = await (starts[target] as Promise<Json>);
    await new Promise((resolve) => setTimeout(resolve, delay));
    const id = session.id as string;
    const sent = performance.now();
    let res: Reply;
    switch (op) {
      case 'get':
        res = await d.request('GET', `/v1/sessions/${id}`);
        break;
      case 'stop':
        res = await d.request('POST', `/v1/sessions/${id}/stop`, { body: { grace_ms: grace } });
        break;
      case 'wait':
        res = await d.request('POST', `/v1/sessions/${id}/wait`, { body: { timeout_ms: timeout } });
        break;
      case 'logs':
        res = await d.request('GET', `/v1/sessions/${id}/logs`);
        break;
      case 'stdout':
        res = await d.request('GET', `/v1/sessions/${id}/logs/stdout`);
        break;
    }
    observe(id, op, sent, res);
  });

  const started = await Promise.all(starts);
  for (const s of started) {
    const obs: Observation = { op: 'start', sent: 0, received: 0, code: 201, status: s.status, session: s };
    seen.set(s.id, [obs, ...(seen.get(s.id) ?? [])]);
  }
  await Promise.all(operations);
  const counts = plan.reduce<Record<string, number>>((acc, p) => ({ ...acc, [p.op]: (acc[p.op] ?? 0) + 1 }), {});
  t.comment(`operations: ${JSON.stringify(counts)}`);

  const serverErrors = codes.filter((c) => c.code >= 500);
  t.same(serverErrors, [], 'no 5xx');
  const unexpected = codes.filter((c) => !(c.code === 200 || c.code === 201));
  t.same(unexpected, [], 'every answer a success');

  // Everything ends; then each session is read twice.
  const finals = new Map<string, Json>();
  for (const s of started) {
    const ended = await d.waitEnded(s.id);
    const again = await d.request('GET', `/v1/sessions/${s.id}`);
    const third = await d.request('GET', `/v1/sessions/${s.id}`);
    t.same(again.json(), third.json(), `${s.id}: two reads give identical bodies`);
    t.same(again.json(), ended, `${s.id}: and the same as the wait answered`);
    finals.set(s.id, again.json());
  }
  const listed = (await d.request('GET', '/v1/sessions?limit=500')).json().items as Json[];
  t.same(listed.map((s) => s.id).sort(), started.map((s) => s.id).sort(), 'all 40 listed');
  t.ok(listed.every((s) => TERMINAL.includes(s.status)), 'all terminal');
  for (const s of listed) t.same(s, finals.get(s.id), `${s.id}: the list shows the same as GET`);

  let stoppedCount = 0;
  for (const s of started) {
    const final = finals.get(s.id) as Json;
    const observations = (seen.get(s.id) ?? []).sort((a, b) => a.received - b.received);
    // Once any answer said "ended", every answer to a request sent after that says the same end.
    const firstEnd = observations.find((o) => o.status !== undefined && TERMINAL.includes(o.status));
    for (const o of observations) {
      if (o.status === undefined) continue;
      if (TERMINAL.includes(o.status)) {
        t.equal(o.status, final.status, `${s.id}: ${o.op} saw the final terminal status`);
        if (o.session) t.same(o.session, final, `${s.id}: ${o.op} answered the final session, field for field`);
      } else if (firstEnd && o.sent > firstEnd.received) {
        t.fail(`${s.id}: ${o.op} sent after an answer said ${firstEnd.status} still saw ${o.status}`);
      }
    }
    t.ok(['exited', 'stopped'].includes(final.status), `${s.id}: exited or stopped (${final.status})`);
    t.equal(final.status_reason, null, `${s.id}: the exit status is known`);
    if (final.status === 'exited') {
      t.match(final, { exit_code: 0, exit_signal: null }, `${s.id}: ended by itself`);
      t.equal((await d.request('GET', `/v1/sessions/${s.id}/logs/stdout`)).text, 'hi\n', `${s.id}: printed hi`);
    } else {
      stoppedCount++;
      const stops = observations.filter((o) => o.op === 'stop');
      t.ok(stops.length > 0, `${s.id}: stopped only when asked`);
      t.ok(final.exit_signal !== null || final.exit_code !== null, `${s.id}: with an exit code or signal`);
    }
  }
  t.comment(`${stoppedCount} stopped, ${started.length - stoppedCount} exited by themselves`);
});

t.test('stops aimed at the moment a process ends by itself: one consistent end each', async (t) => {
  const seed = Number(process.env.RACE_SEED ?? Date.now() % 1_000_000);
  t.comment(`seed ${seed}`);
  const random = rng(seed);
  const d = await deploy(t, { env: { SESSIOND_RATE_LIMIT: '100000' } });
  await d.start();
  // Each session gets three stops and a wait, timed from its own start's answer: the process
  // ends by itself about 500 ms after it started, and the stops land from 250 to 750 ms. The
  // starts go one after another, so the answer comes soon after the process started.
  const pending: Array<Promise<{ id: string; replies: Reply[] }>> = [];
  for (let i = 0; i < 20; i++) {
    const s = await d.run('sleep 0.5; echo bye', { name: `edge ${i}` });
    const calls = Array.from({ length: 3 }, async () => {
      await new Promise((resolve) => setTimeout(resolve, 250 + Math.floor(random() * 500)));
      return d.request('POST', `/v1/sessions/${s.id}/stop`, { body: { grace_ms: Math.floor(random() * 20) } });
    });
    const wait = d.request('POST', `/v1/sessions/${s.id}/wait`, { body: { timeout_ms: 30_000 } });
    pending.push(Promise.all([...calls, wait]).then((replies) => ({ id: s.id as string, replies })));
  }
  const answers = await Promise.all(pending);
  const tally: Record<string, number> = {};
  for (const { id, replies } of answers) {
    t.same(replies.map((r) => r.status), [200, 200, 200, 200], `${id}: every stop and the wait answered 200`);
    const final = (await d.request('GET', `/v1/sessions/${id}`)).json();
    t.same((await d.request('GET', `/v1/sessions/${id}`)).json(), final, `${id}: two reads, identical bodies`);
    for (const r of replies) t.same(r.json(), final, `${id}: every answer is the one final session`);
    const outcome = `${final.status} ${final.exit_signal ?? `code ${final.exit_code}`}`;
    tally[outcome] = (tally[outcome] ?? 0) + 1;
    t.ok(['stopped', 'exited'].includes(final.status), `${id}: ${final.status}`);
    t.equal(final.status_reason, null, `${id}: its exit status is known`);
    const out = (await d.request('GET', `/v1/sessions/${id}/logs/stdout`)).text;
    if (final.exit_code === 0) t.equal(out, 'bye\n', `${id}: ended by itself, all output there`);
    else t.match(final, { exit_code: null, exit_signal: /^SIG/ }, `${id}: or ended by the stop's signal`);
  }
  t.comment(`outcomes: ${JSON.stringify(tally)}`);
});
