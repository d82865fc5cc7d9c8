// What a docker session's record asks of its container: image, limits, network, and the host
// folders it sees (its working directory, read-only unless the repository may be written, and
// its runtime write root), each mounted at the same path.
import type { SessionRecord } from '../../schemas/session.js';
import type { ContainerOptions } from '../process/adapter.js';

export function containerOptions(record: SessionRecord): ContainerOptions {
  return {
    ...(record.image !== null ? { image: record.image } : {}),
    limits: {
      memoryBytes: record.limits?.memory_bytes ?? null,
      cpus: record.limits?.cpus ?? null,
      pids: record.limits?.pids ?? null,
    },
    network: record.network ?? 'none',
    cwdWritable: record.repository_write_allowed,
    mounts: record.runtime_write_root !== null ? [{ path: record.runtime_write_root, readOnly: false }] : [],
  };
}
