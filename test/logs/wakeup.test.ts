// Wakeup: the one-slot wake-up call the stream loops sleep on.
import t from 'tap';
import { Wakeup } from '../../src/logs/wakeup.js';

t.test('a wake before the sleep makes the next sleep return at once, once', async (t) => {
  const w = new Wakeup();
  w.wake();
  w.wake();
  t.equal(await w.sleep(Number.POSITIVE_INFINITY), true, 'woken (flag set before the sleep)');
  t.equal(await w.sleep(10), false, 'the flag was used up: the next sleep times out');
});

t.test('a wake during the sleep resolves it with true', async (t) => {
  const w = new Wakeup();
  const sleeping = w.sleep(Number.POSITIVE_INFINITY);
  setTimeout(() => w.wake(), 5);
  t.equal(await sleeping, true);
  t.equal(await w.sleep(10), false, 'a wake consumed by a sleeper leaves no flag behind');
});

t.test('a timeout resolves false; a later wake is kept for the next sleep', async (t) => {
  const w = new Wakeup();
  t.equal(await w.sleep(5), false);
  w.wake();
  t.equal(await w.sleep(1000), true);
});

t.test('a zero or negative timeout returns (false) rather than hanging', async (t) => {
  const w = new Wakeup();
  t.equal(await w.sleep(0), false);
  t.equal(await w.sleep(-50), false);
});

t.test('many wakes while sleeping: one resolution, no stale flag', async (t) => {
  const w = new Wakeup();
  const sleeping = w.sleep(Number.POSITIVE_INFINITY);
  w.wake();
  w.wake();
  w.wake();
  t.equal(await sleeping, true);
  // The second and third wake came after the waiter was gone: they set the flag (a change may
  // have happened after the sleeper looked), so the next sleep returns at once, and only that one.
  t.equal(await w.sleep(1000), true);
  t.equal(await w.sleep(10), false);
});
