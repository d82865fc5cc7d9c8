// The AgentIndexStore contract, run against the file index and the memory one, so they cannot
// drift; then what only the file index must do: stay inside the session folder and refuse links.
import fs from 'node:fs/promises';
import path from 'node:path';
import t, { type Test } from 'tap';
import { createFileAgentIndex } from '../../src/agent/file-index-store.js';
import { IndexGapError, RECORD_BYTES, type AgentCheckpoint, type AgentIndexStore } from '../../src/agent/index-store.js';
import { emptySummary } from '../../src/agent/summary.js';
import { createMemoryAgentIndex } from '../fakes/memory-agent-index.js';
import { tempDir } from '../helper.js';

const quiet = { warn: () => undefined };
const ID = 'demo-abc123-xyz';

const records = (from: number, n: number) => {
  const buf = Buffer.alloc(n * RECORD_BYTES);
  for (let i = 0; i < n; i++) buf.writeDoubleLE(from + i, i * RECORD_BYTES);
  return buf;
};
const offsets = (buf: Buffer) => Array.from({ length: buf.length / RECORD_BYTES }, (_, i) => buf.readDoubleLE(i * RECORD_BYTES));

const checkpoint = (count: number): AgentCheckpoint => ({ version: 1, offset: count * 100, count, summary: emptySummary(), names: ['text', 'unknown', 'result'], complete: false });

async function fileIndex(t: Test): Promise<{ index: AgentIndexStore; sessionDir: string }> {
  const sessions = await tempDir(t, 'sessiond-agent-index-');
  const sessionDir = path.join(sessions, ID);
  await fs.mkdir(sessionDir);
  return { index: createFileAgentIndex({ dirOf: (id) => path.join(sessions, id, 'agent'), log: quiet }), sessionDir };
}

const implementations: Array<[string, (t: Test) => Promise<AgentIndexStore>]> = [
  ['file', async (t) => (await fileIndex(t)).index],
  ['memory', async () => createMemoryAgentIndex()],
];

for (const [name, make] of implementations) {
  t.test(`${name} index: checkpoints, records, leftovers and gaps`, async (t) => {
    const index = await make(t);
    t.equal(await index.load(ID), null, 'nothing before the first save');
    t.same(offsets(await index.read(ID, 0, 10)), [], 'no records');

    await index.write(ID, 0, records(0, 5));
    await index.save(ID, checkpoint(5));
    t.same(await index.load(ID), checkpoint(5), 'the checkpoint as saved');
    t.same(offsets(await index.read(ID, 1, 3)), [1, 2, 3], 'records by position');
    t.same(offsets(await index.read(ID, 3, 10)), [3, 4], 'fewer past the end');
    t.same(offsets(await index.read(ID, 9, 10)), [], 'none far past the end');

    // A crash after writing records but before the checkpoint leaves records past its count:
    // parsing goes on from the checkpoint and writes over them.
    await index.write(ID, 5, records(100, 3));
    await index.write(ID, 5, records(5, 2));
    t.same(offsets(await index.read(ID, 0, 100)), [0, 1, 2, 3, 4, 5, 6], 'the leftovers are replaced, not kept');
    await t.rejects(index.write(ID, 9, records(9, 1)), IndexGapError, 'a gap is refused');

    await index.remove(ID);
    t.equal(await index.load(ID), null, 'gone after remove');
    t.same(offsets(await index.read(ID, 0, 10)), []);
  });
}

t.test('file index: inside the session folder only, no link followed, a bad checkpoint starts over', async (t) => {
  const { index, sessionDir } = await fileIndex(t);
  await t.rejects(index.save('other-session-1', checkpoint(0)), { code: 'ENOENT' }, 'no session folder: nothing is created');
  await index.write(ID, 0, records(0, 2));
  t.ok((await fs.stat(path.join(sessionDir, 'agent', 'index.bin'))).isFile(), 'the index lives in the session folder');

  // A session (same user) swapping the index for a link to another file: never written through.
  const victim = path.join(sessionDir, 'victim.txt');
  await fs.writeFile(victim, 'precious');
  await fs.rm(path.join(sessionDir, 'agent', 'index.bin'));
  await fs.symlink(victim, path.join(sessionDir, 'agent', 'index.bin'));
  await t.rejects(index.write(ID, 0, records(0, 1)), { code: 'ELOOP' });
  await t.rejects(index.read(ID, 0, 1), { code: 'ELOOP' });
  t.equal(await fs.readFile(victim, 'utf8'), 'precious', 'the link target is untouched');

  // The folder itself swapped for a link: refused too.
  await fs.rm(path.join(sessionDir, 'agent'), { recursive: true });
  await fs.mkdir(path.join(sessionDir, 'elsewhere'));
  await fs.symlink(path.join(sessionDir, 'elsewhere'), path.join(sessionDir, 'agent'));
  await t.rejects(index.save(ID, checkpoint(0)), /not a folder/);
  t.same(await fs.readdir(path.join(sessionDir, 'elsewhere')), [], 'nothing written through the link');

  await fs.rm(path.join(sessionDir, 'agent'));
  await fs.mkdir(path.join(sessionDir, 'agent'));
  await fs.writeFile(path.join(sessionDir, 'agent', 'state.json'), '{"version":1,"offset":"no"}');
  await fs.writeFile(path.join(sessionDir, 'agent', '.state.json.123.abcdef.tmp'), 'half');
  t.equal(await index.load(ID), null, 'a checkpoint that does not match its schema: start over');
  t.same(await fs.readdir(path.join(sessionDir, 'agent')), ['state.json'], 'an unfinished checkpoint write is cleared');
});
