// Bench section: the log index's cost on disk. A session writes a realistic agent transcript (one
// write per stream-json line, every 2 ms, a stderr note per turn); logs.idx beside its logs,
// after it ended, against the logs themselves.
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, sleep, type Row, type Sessiond } from './lib.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const AGENT_WRITER_JS = path.resolve(here, 'agent-writer.js');

export async function logIndex(sd: Sessiond, root: string): Promise<Row[]> {
  const cwd = path.join(root, 'index');
  await fs.mkdir(cwd, { recursive: true });
  const session = await sd.json('POST', '/v1/sessions', { name: 'index', working_directory: cwd, command: process.execPath, args: [AGENT_WRITER_JS, '150', '2'] });
  const ended = await sd.json('POST', `/v1/sessions/${session.id}/wait`, { timeout_ms: 120_000 });
  if (ended.status !== 'exited') throw new Error(`the index session ended as ${ended.status}`);
  // The watcher notes the last bytes as the end is recorded: give it a moment.
  await sleep(300);
  const dir = path.join(sd.dataDir, 'sessions', session.id as string);
  const size = async (name: string) => (await fs.stat(path.join(dir, name))).size;
  const logBytes = (await size('stdout.log')) + (await size('stderr.log'));
  const indexBytes = await size('logs.idx');
  return [{ what: 'log index on disk (bytes)', sessiond: `${indexBytes} (logs.idx)`, reference: `${logBytes} (the agent's stdout + stderr)`, ratio: indexBytes / logBytes, goal: '<= 0.05' }];
}
