// The end-watch both runtimes share: one inspection at a time per session, a wake-up during one
// asks for exactly one more, ends told to every listener, the safety poll only while someone
// listens, and what a session holds let go when it is untracked.
import t from 'tap';
import type { ProcessState } from '../../src/process/adapter.js';
import { EndWatch } from '../../src/process/end-watch.js';

type Ended = Extract<ProcessState, { state: 'ended' }>;
const ENDED: Ended = { state: 'ended', exit_code: 3, exit_signal: null, ended_at: null };

/** An inspect the test answers by hand, one pending call at a time. */
function scripted() {
  const pending: Array<(state: ProcessState) => void> = [];
  let calls = 0;
  return {
    inspect: () => {
      calls += 1;
      return new Promise<ProcessState>((resolve) => pending.push(resolve)) as Promise<{ state: 'running' } | Ended>;
    },
    answer(state: ProcessState) {
      const next = pending.shift();
      if (!next) throw new Error('no inspection is waiting');
      next(state);
    },
    get calls() {
      return calls;
    },
    get waiting() {
      return pending.length;
    },
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

t.test('checks run one at a time; wake-ups during one ask for one more; the end reaches every listener', async (t) => {
  const inspect = scripted();
  const watch = new EndWatch<string, Ended>({ inspect: inspect.inspect, pollIntervalMs: 60_000 });
  t.teardown(() => watch.close());
  const heard: string[] = [];
  watch.watch((id, state) => heard.push(`a:${id}:${state.exit_code}`));
  watch.watch((id) => heard.push(`b:${id}`));
  watch.track('s1', 'handle-1');
  watch.check('s1');
  watch.check('s1');
  watch.check('s1');
  t.equal(inspect.calls, 1, 'one inspection under way, however many wake-ups');
  inspect.answer({ state: 'running' });
  await tick();
  t.equal(inspect.calls, 2, 'the wake-ups during it asked for one more, not three');
  inspect.answer(ENDED);
  await tick();
  t.same(heard, ['a:s1:3', 'b:s1'], 'the end, to every listener');
  t.equal(inspect.waiting, 0);
});

t.test('an end seen after untrack is not told; untrack lets go of what the session holds', async (t) => {
  const inspect = scripted();
  const released: string[] = [];
  const watch = new EndWatch<string, Ended>({ inspect: inspect.inspect, pollIntervalMs: 60_000, onUntrack: (id, handle) => released.push(`${id}=${handle}`) });
  t.teardown(() => watch.close());
  const heard: string[] = [];
  watch.watch((id) => heard.push(id));
  watch.track('s1', 'h1');
  watch.check('s1');
  watch.untrack('s1');
  inspect.answer(ENDED);
  await tick();
  t.same(heard, [], 'nobody hears of a session no longer tracked');
  t.same(released, ['s1=h1']);
  watch.track('s2', 'h2');
  watch.track('s2', 'h2b');
  t.same(released, ['s1=h1', 's2=h2'], 'tracking an id again lets go of the old handle');
  t.same([...watch.entries()], [['s2', 'h2b']]);
});

t.test('the safety poll checks every tracked session while someone listens, and stops with the last listener', async (t) => {
  const seen: string[] = [];
  const watch = new EndWatch<string, Ended>({
    inspect: async (id) => {
      seen.push(id);
      return { state: 'running' };
    },
    pollIntervalMs: 20,
  });
  t.teardown(() => watch.close());
  watch.track('s1', 'h1');
  watch.track('s2', 'h2');
  await new Promise((resolve) => setTimeout(resolve, 80));
  t.same(seen, [], 'no listener, no poll');
  const stop = watch.watch(() => undefined);
  while (!(seen.includes('s1') && seen.includes('s2'))) await new Promise((resolve) => setTimeout(resolve, 10));
  t.pass('both polled');
  stop();
  const count = seen.length;
  await new Promise((resolve) => setTimeout(resolve, 80));
  t.equal(seen.length, count, 'the poll stopped with the last listener');
});

t.test('an inspection that fails is reported and the next check looks again; tell() reaches listeners', async (t) => {
  const errors: string[] = [];
  let fail = true;
  const watch = new EndWatch<string, Ended>({
    inspect: async () => {
      if (fail) throw new Error('EIO');
      return ENDED;
    },
    pollIntervalMs: 60_000,
    onInspectError: (id, err) => errors.push(`${id}:${(err as Error).message}`),
  });
  t.teardown(() => watch.close());
  const heard: string[] = [];
  watch.watch((id, state) => heard.push(`${id}:${state.exit_code}`));
  watch.track('s1', 'h1');
  watch.check('s1');
  await tick();
  t.same(errors, ['s1:EIO']);
  fail = false;
  watch.check('s1');
  await tick();
  t.same(heard, ['s1:3'], 'found on the next check');
  watch.tell('gone', { ...ENDED, exit_code: null });
  await tick();
  t.same(heard, ['s1:3', 'gone:null'], 'an end told directly (a handle nothing can watch)');
  watch.close();
  watch.track('s3', 'h3');
  watch.check('s3');
  await tick();
  t.same(heard, ['s1:3', 'gone:null'], 'nothing is checked after close');
});
