// SessionWatch: tells streams when a session's status changes or it is deleted, from the
// supervisor's changes (one listener for all streams; nothing polls or waits per stream).
import type { EventEmitter } from 'node:events';
import type { Session } from '../../schemas/session.js';
import { isTerminalStatus } from '../../schemas/session.js';

/** What streams need of the sessions: a read, and the supervisor's feed of recorded changes. */
export interface SessionSource {
  get(id: string): Promise<Session>;
  readonly changes: EventEmitter<{ change: [{ type: string; session: Session }] }>;
}

/** Called with the session on every status change, or with null once it is gone (deleted). */
export type StatusListener = (session: Session | null) => void;

/** The session has ended (a terminal status). */
export const hasEnded = (session: Session) => isTerminalStatus(session.status);

export class SessionWatch {
  private readonly listeners = new Map<string, Set<StatusListener>>();

  constructor(private readonly source: SessionSource) {
    source.changes.on('change', this.onChange);
  }

  subscribe(id: string, listener: StatusListener): () => void {
    const set = this.listeners.get(id) ?? new Set<StatusListener>();
    set.add(listener);
    this.listeners.set(id, set);
    // The session may have changed between the caller's read and this subscription: look once
    // more and tell the listener (listeners ignore a status they already have).
    this.source.get(id).then(
      (session) => {
        if (set.has(listener)) listener(session);
      },
      () => {
        if (set.has(listener)) listener(null);
      },
    );
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(id) === set) this.listeners.delete(id);
    };
  }

  close(): void {
    this.source.changes.off('change', this.onChange);
    this.listeners.clear();
  }

  private readonly onChange = (change: { type: string; session: Session }) => {
    const listeners = this.listeners.get(change.session.id);
    if (!listeners) return;
    const value = change.type === 'session.deleted' ? null : change.session;
    for (const listener of [...listeners]) listener(value);
  };
}
