// The retry schedule: doubling from the first delay, capped, jittered within known bounds, and
// retries that go on for at least 24 hours after the first attempt before an event is given up.
import t from 'tap';
import { DEFAULT_MAX_RETRY_DELAY_MS, DEFAULT_RETRY_WINDOW_MS, nextRetryAt, retryDelayMs } from '../../src/events/webhooks/backoff.js';

const schedule = { firstRetryMs: 5000, maxDelayMs: DEFAULT_MAX_RETRY_DELAY_MS };

t.test('delays double from the first one and stop at the cap', async (t) => {
  const nominal = (attempt: number) => retryDelayMs(attempt, { ...schedule, random: () => 0 });
  t.same([1, 2, 3, 4].map(nominal), [5000, 10000, 20000, 40000], 'without jitter: 5 s, 10 s, 20 s, 40 s');
  t.equal(nominal(30), DEFAULT_MAX_RETRY_DELAY_MS, 'capped at one hour');
  t.equal(nominal(5000), DEFAULT_MAX_RETRY_DELAY_MS, 'a huge attempt count neither overflows nor passes the cap');
});

t.test('jitter stays within (0.75, 1] of the nominal delay and really varies', async (t) => {
  for (const attempt of [1, 2, 5, 12, 40]) {
    const nominal = Math.min(schedule.maxDelayMs, schedule.firstRetryMs * 2 ** (attempt - 1));
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const delay = retryDelayMs(attempt, schedule);
      seen.add(delay);
      if (delay > nominal || delay < nominal * 0.75) t.fail(`attempt ${attempt}: ${delay} outside (${nominal * 0.75}, ${nominal}]`);
    }
    t.ok(seen.size > 10, `attempt ${attempt}: delays differ (${seen.size} distinct of 200)`);
  }
  t.equal(retryDelayMs(1, { ...schedule, random: () => 0.999999 }), 3750, 'the lower bound, near random() = 1');
});

t.test('a failing delivery is retried for at least 24 hours, then given up', async (t) => {
  for (const random of [() => 0, () => 0.9999, Math.random]) {
    const first = 0;
    let at = first;
    let attempts = 0;
    for (;;) {
      attempts += 1;
      // Each attempt takes the full 10 s timeout: the worst case for the count, not for the window.
      const next = nextRetryAt(attempts, first, at, at + 10_000, { ...schedule, random, windowMs: DEFAULT_RETRY_WINDOW_MS });
      if (next === null) break;
      t.ok(next > at, 'the next attempt is later');
      at = next;
    }
    t.ok(at - first >= DEFAULT_RETRY_WINDOW_MS, `the last attempt is ${((at - first) / 3600000).toFixed(2)} h after the first`);
    t.ok(at - first < DEFAULT_RETRY_WINDOW_MS + DEFAULT_MAX_RETRY_DELAY_MS + 10_000, 'and given up within one more delay');
    t.ok(attempts >= 25 && attempts <= 45, `${attempts} attempts in all`);
  }
});

t.test('the window counts from the first attempt, whatever the attempt number', async (t) => {
  const options = { ...schedule, random: () => 0, windowMs: 1000 };
  t.equal(nextRetryAt(7, 0, 999, 999, options), 999 + 320000, 'inside the window: a retry');
  t.equal(nextRetryAt(1, 0, 1000, 1000, options), null, 'at the window: given up');
});
