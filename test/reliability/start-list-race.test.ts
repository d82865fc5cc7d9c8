// The v1 start/list race, with the real file store, real processes and a slowed fsync: a list
// that ran while a start sat between writing its record and recording its launch marked it
// `failed`, then the launch wrote `running` over it. Reads now only read, so no status a client
// sees ever goes backwards.
import t from 'tap';
import { buildApp } from '../../src/app.js';
import { createFsStore } from '../../src/store/fs-store.js';
import { SESSION_STATUSES, isTerminalStatus } from '../../schemas/session.js';
import { MemoryJournal } from '../fakes/memory-journal.js';
import { authHeader, eventually, testConfig } from '../helper.js';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Where a status stands: starting, running, then final. */
const rank = (status: string) => (status === 'starting' ? 1 : status === 'running' ? 2 : 3);

t.test('24 racing starts and lists: no status goes backwards', async (t) => {
  const config = await testConfig(t);
  const store = createFsStore({ dataDir: config.dataDir, log: silent });
  // Every record write waits, as on a disk with a slow fsync: the window the race needs. A put
  // readable at once (a launch's) is, as the store promises, and its write is the slow part.
  const put = store.put.bind(store);
  store.put = async (record, options) => {
    if (options?.readableAtOnce) {
      const written = put(record, options);
      await sleep(25);
      return written;
    }
    await sleep(25);
    return put(record, options);
  };
  const journal = new MemoryJournal();
  const app = await buildApp({ config, store, journal, logger: false, forceCloseConnections: true });
  t.teardown(() => app.close());

  const seen = new Map<string, string[]>();
  const note = (id: string, status: string) => {
    const list = seen.get(id) ?? [];
    if (list.at(-1) !== status) list.push(status);
    seen.set(id, list);
  };
  let starting = true;
  const lister = (async () => {
    while (starting) {
      const res = await app.inject({ url: '/v1/sessions?limit=500', headers: authHeader('read') });
      for (const s of res.json().items as Array<{ id: string; status: string }>) note(s.id, s.status);
      await sleep(1);
    }
  })();
  const starts = await Promise.all(
    Array.from({ length: 24 }, (_, i) =>
      app.inject({
        method: 'POST',
        url: '/v1/sessions',
        headers: authHeader('write'),
        payload: { name: `racer ${i}`, working_directory: config.workspaceRoots[0], command: 'bash', args: ['-c', i % 2 ? 'exit 0' : 'sleep 0.2'] },
      }),
    ),
  );
  // A start's answer is read concurrently with the lists, so it is checked on its own: running,
  // or already ended by itself; never failed.
  for (const res of starts) {
    t.equal(res.statusCode, 201);
    t.match(res.json().status, /^(running|exited)$/, 'the start answered running (or exited already)');
  }
  // Until every session has ended by itself, with nobody asking for it but the lister.
  await eventually(async () => {
    const res = await app.inject({ url: '/v1/sessions?limit=500', headers: authHeader('read') });
    const items = res.json().items as Array<{ id: string; status: string }>;
    for (const s of items) note(s.id, s.status);
    return items.length === 24 && items.every((s) => isTerminalStatus(s.status as (typeof SESSION_STATUSES)[number])) ? true : undefined;
  }, 20_000);
  starting = false;
  await lister;

  for (const [id, statuses] of seen) {
    t.ok(statuses.every((s, i) => i === 0 || rank(s) > rank(statuses[i - 1] as string)), `${id}: ${statuses.join(' -> ')}`);
    t.notOk(statuses.includes('failed'), `${id} never read as failed`);
    const events = journal.all().filter((e) => e.session.id === id);
    t.same(events.map((e) => e.type), ['session.created', 'session.started', 'session.ended'], `${id}: created, started, ended`);
  }
  t.equal(seen.size, 24);
});
