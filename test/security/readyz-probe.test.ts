// /readyz is public, and v1 made an fsync'ed write (the store probe) on every call: anyone could
// make the disk work as fast as they could send requests. The probe now answers for 5 s.
import t from 'tap';
import { cachedProbe, READY_PROBE_TTL_MS } from '../../src/routes/health.js';
import { StoreError } from '../../src/store/errors.js';
import { buildFakeApp } from '../helper.js';
import { createMemoryStore } from '../fakes/memory-store.js';

t.test('a burst of anonymous /readyz calls makes one probe', async (t) => {
  const store = createMemoryStore();
  let probes = 0;
  const probe = store.probe.bind(store);
  store.probe = async () => {
    probes++;
    return probe();
  };
  const ctx = await buildFakeApp(t, { store });
  const began = performance.now();
  const parallel = await Promise.all(Array.from({ length: 200 }, () => ctx.app.inject({ url: '/readyz', headers: { authorization: undefined } })));
  for (let i = 0; i < 100; i++) await ctx.app.inject({ url: '/readyz', headers: { authorization: undefined } });
  const elapsed = performance.now() - began;
  t.ok(parallel.every((res) => res.statusCode === 200 && res.json().status === 'ok'), 'every call is answered ready');
  // One probe per started 5 s (one, unless this machine took more than 5 s for 300 injections).
  const allowed = 1 + Math.floor(elapsed / READY_PROBE_TTL_MS);
  t.ok(probes >= 1 && probes <= allowed, `300 calls made ${probes} probe(s) (at most ${allowed} in ${Math.round(elapsed)} ms)`);
});

t.test('the probe answers for 5 s, failure included, and callers share one probe under way', async (t) => {
  let now = 0;
  let calls = 0;
  let fail = false;
  let release: (() => void) | null = null;
  const probe = cachedProbe(
    () => {
      calls++;
      if (fail) return Promise.reject(new StoreError('io', 'disk full'));
      return new Promise<void>((resolve) => {
        release = resolve;
      });
    },
    () => now,
  );
  const first = [probe(), probe(), probe()];
  t.equal(calls, 1, 'three callers during one probe: one probe');
  (release as unknown as () => void)();
  await Promise.all(first);
  now = READY_PROBE_TTL_MS - 1;
  await probe();
  t.equal(calls, 1, 'within 5 s: the same outcome');
  now = READY_PROBE_TTL_MS;
  fail = true;
  await t.rejects(probe(), /disk full/, 'after 5 s: a new probe, which fails');
  t.equal(calls, 2);
  fail = false;
  now = READY_PROBE_TTL_MS + 1000;
  await t.rejects(probe(), /disk full/, 'the failure answers for 5 s too');
  t.equal(calls, 2);
  now = 2 * READY_PROBE_TTL_MS;
  const recovered = probe();
  (release as unknown as () => void)();
  await recovered;
  t.equal(calls, 3, 'then the probe runs again and sees the recovery');
});
