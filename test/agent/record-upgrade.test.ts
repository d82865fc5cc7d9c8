// Records written before agent sessions existed (no parent_id, agent, agent_options) load as
// plain sessions: an upgrade never turns a good record into a damaged one.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { toSession } from '../../src/sessions/session-view.js';
import { createFsStore } from '../../src/store/fs-store.js';
import { DEMO_ID, makeMetadata, makeRecord } from '../fakes/records.js';
import { tempDir } from '../helper.js';

const quiet = { warn: () => undefined, info: () => undefined, error: () => undefined };

t.test('an older record loads with parent_id and agent null', async (t) => {
  const dataDir = await tempDir(t, 'sessiond-upgrade-');
  const first = createFsStore({ dataDir, log: quiet });
  await first.init();
  await first.create(makeRecord(), makeMetadata());
  const file = join(dataDir, 'sessions', DEMO_ID, 'session.json');
  const old = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  delete old.parent_id;
  delete old.agent;
  delete old.agent_options;
  await writeFile(file, JSON.stringify(old));

  const second = createFsStore({ dataDir, log: quiet });
  await second.init();
  t.equal(second.isDamaged(DEMO_ID), false, 'not damaged');
  const record = await second.get(DEMO_ID);
  t.match(toSession(record as never), { id: DEMO_ID, parent_id: null, agent: null });
});
