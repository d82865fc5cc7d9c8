// The file AgentIndexStore: `<session folder>/agent/index.bin` (the records) and `state.json` (the
// checkpoint), inside the session's folder so they go when the session is deleted. Opened without
// following links, and the folder is made only inside an existing session folder: a session that
// swaps them for links cannot make the service write elsewhere, and a deleted session is never
// brought back by a late write.
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { errnoCode, writeFileAtomic } from '../store/atomic-write.js';
import { AgentCheckpointSchema, IndexGapError, RECORD_BYTES, type AgentCheckpoint, type AgentIndexStore } from './index-store.js';

export interface FileAgentIndexOptions {
  /** The folder of a session's index (it is created there when missing, its parent never). */
  dirOf: (id: string) => string;
  log: { warn(obj: object, msg: string): void };
}

const RECORDS_FILE = 'index.bin';
const CHECKPOINT_FILE = 'state.json';
/** A checkpoint write cut short by a crash (writeFileAtomic's temporary name). */
const CHECKPOINT_TMP = /^\.state\.json\.\d+\.[0-9a-f]+\.tmp$/;
const READ = constants.O_RDONLY | constants.O_NOFOLLOW;
const WRITE = constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW;
const DIR_MODE = 0o700;
const FILE_MODE = 0o600;

const isMissing = (err: unknown) => errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR';

export function createFileAgentIndex(options: FileAgentIndexOptions): AgentIndexStore {
  /** The index folder, checked to be a real folder (not a link); made when `create` and missing. */
  const folder = async (id: string, create: boolean): Promise<string | null> => {
    const dir = options.dirOf(id);
    if (create) {
      // Not recursive: the session folder must exist already.
      await mkdir(dir, { mode: DIR_MODE }).catch((err: unknown) => {
        if (errnoCode(err) !== 'EEXIST') throw err;
      });
    }
    try {
      const s = await lstat(dir);
      if (!s.isDirectory()) throw new Error(`${dir} is not a folder the service made`);
      return dir;
    } catch (err) {
      if (!create && isMissing(err)) return null;
      throw err;
    }
  };

  return {
    async load(id) {
      const dir = await folder(id, false);
      if (!dir) return null;
      for (const name of await readdir(dir)) {
        if (CHECKPOINT_TMP.test(name)) await rm(join(dir, name), { force: true });
      }
      let text: string;
      try {
        const fh = await open(join(dir, CHECKPOINT_FILE), READ);
        try {
          text = await fh.readFile('utf8');
        } finally {
          await fh.close();
        }
      } catch (err) {
        if (isMissing(err)) return null;
        throw err;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = null;
      }
      if (!Value.Check(AgentCheckpointSchema, parsed)) {
        options.log.warn({ id }, 'the agent checkpoint of a session cannot be read: its output is parsed again from the start');
        return null;
      }
      return parsed;
    },

    async save(id, checkpoint: AgentCheckpoint) {
      const dir = (await folder(id, true)) as string;
      await writeFileAtomic(join(dir, CHECKPOINT_FILE), JSON.stringify(checkpoint), { mode: FILE_MODE });
    },

    async write(id, at, records) {
      const dir = (await folder(id, true)) as string;
      const fh = await open(join(dir, RECORDS_FILE), WRITE, FILE_MODE);
      try {
        const { size } = await fh.stat();
        const start = at * RECORD_BYTES;
        if (size < start) throw new IndexGapError(id, Math.floor(size / RECORD_BYTES), at);
        if (size > start) await fh.truncate(start);
        let done = 0;
        while (done < records.length) done += (await fh.write(records, done, records.length - done, start + done)).bytesWritten;
      } finally {
        await fh.close();
      }
    },

    async read(id, from, count) {
      const dir = await folder(id, false);
      if (!dir || count <= 0) return Buffer.alloc(0);
      let fh;
      try {
        fh = await open(join(dir, RECORDS_FILE), READ);
      } catch (err) {
        if (isMissing(err)) return Buffer.alloc(0);
        throw err;
      }
      try {
        const buf = Buffer.alloc(count * RECORD_BYTES);
        let filled = 0;
        while (filled < buf.length) {
          const { bytesRead } = await fh.read(buf, filled, buf.length - filled, from * RECORD_BYTES + filled);
          if (bytesRead === 0) break;
          filled += bytesRead;
        }
        return buf.subarray(0, filled - (filled % RECORD_BYTES));
      } finally {
        await fh.close();
      }
    },

    async remove(id) {
      const dir = options.dirOf(id);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
