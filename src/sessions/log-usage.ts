// How many bytes the sessions' logs hold on disk, per stream, for the sessiond_log_bytes gauge.
// An ended session's logs no longer grow, so their sizes are read once and kept; only live
// sessions are looked at again at each scrape.
import { isTerminalStatus } from '../../schemas/session.js';
import type { SessionStore } from '../store/store.js';

export function createLogUsage(store: SessionStore) {
  const settled = new Map<string, { stdout: number; stderr: number }>();

  const sizes = async (id: string) => {
    const [out, err] = await Promise.all([store.logStat(id, 'stdout'), store.logStat(id, 'stderr')]);
    return { stdout: out.size, stderr: err.size };
  };

  return {
    async total(): Promise<{ stdout: number; stderr: number }> {
      const records = await store.list();
      const present = new Set<string>();
      const total = { stdout: 0, stderr: 0 };
      for (const record of records) {
        present.add(record.id);
        let size = settled.get(record.id);
        if (!size) {
          size = await sizes(record.id).catch(() => ({ stdout: 0, stderr: 0 }));
          if (isTerminalStatus(record.status)) settled.set(record.id, size);
        }
        total.stdout += size.stdout;
        total.stderr += size.stderr;
      }
      // Deleted sessions hold nothing any more.
      for (const id of settled.keys()) if (!present.has(id)) settled.delete(id);
      return total;
    },
  };
}
