// SessionWatch: tells streams when a session's status changes, with one waiter per session
// however many clients watch it (the waiter is what notices a process that ended by itself).
import type { EventEmitter } from 'node:events';
import type { Session } from '../../schemas/session.js';
import { isTerminalStatus } from '../../schemas/session.js';

/** What streams need of the session manager. */
export interface SessionSource {
  get(id: string): Promise<Session>;
  wait(id: string, timeoutMs: number): Promise<Session>;
  readonly events: EventEmitter<{ status: [Session] }>;
}

/** Called with the session on every status change, or with null once it is gone (deleted). */
export type StatusListener = (session: Session | null) => void;

/** Short, so a waiter outlives its last client by a few seconds at most. */
const WAIT_SLICE_MS = 5000;

/** The session has ended (a terminal status). */
export const hasEnded = (session: Session) => isTerminalStatus(session.status);

export class SessionWatch {
  private readonly listeners = new Map<string, Set<StatusListener>>();
  private readonly waiting = new Set<string>();
  private closed = false;

  constructor(private readonly source: SessionSource) {
    source.events.on('status', this.onStatus);
  }

  subscribe(id: string, listener: StatusListener): () => void {
    const set = this.listeners.get(id) ?? new Set<StatusListener>();
    set.add(listener);
    this.listeners.set(id, set);
    if (!this.waiting.has(id)) void this.waitLoop(id);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(id) === set) this.listeners.delete(id);
    };
  }

  close(): void {
    this.closed = true;
    this.source.events.off('status', this.onStatus);
    this.listeners.clear();
  }

  private readonly onStatus = (session: Session) => {
    for (const listener of [...(this.listeners.get(session.id) ?? [])]) listener(session);
  };

  /** Keeps asking the manager to wait (which reconciles, and so emits the change) while anyone watches. */
  private async waitLoop(id: string): Promise<void> {
    this.waiting.add(id);
    try {
      while (!this.closed && this.listeners.has(id)) {
        const session = await this.source.wait(id, WAIT_SLICE_MS);
        if (hasEnded(session)) {
          // Someone else may have recorded the end (and emitted it) after a watcher read the
          // session but before it subscribed; wait() then returns the ended session without a new
          // event. Tell the watchers now, or their streams would never end. They ignore a status
          // they already have.
          for (const listener of [...(this.listeners.get(id) ?? [])]) listener(session);
          return;
        }
      }
    } catch {
      // The session is gone (deleted) or unreadable: tell its watchers; they end their streams.
      for (const listener of [...(this.listeners.get(id) ?? [])]) listener(null);
    } finally {
      this.waiting.delete(id);
    }
  }
}
