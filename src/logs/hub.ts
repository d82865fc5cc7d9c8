// LogHub: one watcher per log file however many clients follow it, plus ONE shared safety poll
// for all followed logs, so a missed inotify event never stalls a stream and a hundred clients
// do not each poll the disk on their own timer.
import type { LogStreamName, SessionStore } from '../store/store.js';

interface Entry {
  id: string;
  stream: LogStreamName;
  listeners: Set<() => void>;
  unwatch: () => void;
  lastSize: number;
  lastMtime: number;
}

export const DEFAULT_LOG_POLL_MS = 500;

export class LogHub {
  private readonly entries = new Map<string, Entry>();
  private timer: NodeJS.Timeout | null = null;
  private polling = false;

  constructor(
    private readonly store: SessionStore,
    private readonly pollIntervalMs = DEFAULT_LOG_POLL_MS,
  ) {}

  /** Calls `listener` whenever the log may have changed; returns the unsubscribe function. */
  subscribe(id: string, stream: LogStreamName, listener: () => void): () => void {
    const key = `${id}\0${stream}`;
    let entry = this.entries.get(key);
    if (!entry) {
      const created: Entry = { id, stream, listeners: new Set(), unwatch: () => undefined, lastSize: -1, lastMtime: -1 };
      created.unwatch = this.store.watchLog(id, stream, () => this.notify(created));
      this.entries.set(key, created);
      entry = created;
      this.ensurePolling();
    }
    entry.listeners.add(listener);
    const owned = entry;
    return () => {
      owned.listeners.delete(listener);
      if (owned.listeners.size === 0 && this.entries.get(key) === owned) {
        // The last client is gone: release the file watcher at once.
        owned.unwatch();
        this.entries.delete(key);
        if (this.entries.size === 0) this.stopPolling();
      }
    };
  }

  /** Open file watchers (one per followed log). */
  get watchedLogs(): number {
    return this.entries.size;
  }

  close(): void {
    for (const entry of this.entries.values()) entry.unwatch();
    this.entries.clear();
    this.stopPolling();
  }

  private notify(entry: Entry): void {
    for (const listener of [...entry.listeners]) listener();
  }

  private ensurePolling(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.poll(), this.pollIntervalMs);
    // Polling must never keep the service alive on its own.
    this.timer.unref();
  }

  private stopPolling(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      await Promise.all(
        [...this.entries.values()].map(async (entry) => {
          const stat = await this.store.logStat(entry.id, entry.stream).catch(() => null);
          if (!stat) return;
          const mtime = stat.mtime?.getTime() ?? 0;
          if (stat.size !== entry.lastSize || mtime !== entry.lastMtime) {
            entry.lastSize = stat.size;
            entry.lastMtime = mtime;
            this.notify(entry);
          }
        }),
      );
    } finally {
      this.polling = false;
    }
  }
}
