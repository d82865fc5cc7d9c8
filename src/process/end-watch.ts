// The end-watch every runtime runs (ProcessAdapter.track, untrack and watch): the sessions it
// tracks, one inspection at a time per session (a wake-up during one asks for one more after it),
// the listeners told of each end, and one slow safety poll while anyone listens. A runtime brings
// how to inspect a handle, and calls check() on its own wake-ups (inotify on a keeper's state
// folder, the Engine's event stream).
import type { ProcessState } from './adapter.js';

type Ended = Extract<ProcessState, { state: 'ended' }>;

export interface EndWatchOptions<H, E extends Ended> {
  /** The state of one tracked session; a rejection is no fact about it (the next check looks again). */
  inspect(sessionId: string, handle: H): Promise<ProcessState & ({ state: 'running' } | E)>;
  /** The safety poll's interval. */
  pollIntervalMs: number;
  /** An inspection failed (an I/O error, an Engine that did not answer). */
  onInspectError?(sessionId: string, err: unknown): void;
  /** A session stops being tracked (untrack, a new track of the same id, close): free what it holds. */
  onUntrack?(sessionId: string, handle: H): void;
}

interface Tracked<H> {
  handle: H;
  /** An inspection is under way; `again` asks for one more after it. */
  checking: boolean;
  again: boolean;
}

export class EndWatch<H, E extends Ended> {
  private readonly tracked = new Map<string, Tracked<H>>();
  private readonly listeners = new Set<(sessionId: string, state: E) => void>();
  private pollTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly options: EndWatchOptions<H, E>) {}

  /**
   * Watches `sessionId` (replacing what was tracked under it). A runtime checks it once its own
   * wake-up is in place: that closes the gap between a launch (or an adoption) and the wake-up.
   */
  track(sessionId: string, handle: H): void {
    this.untrack(sessionId);
    this.tracked.set(sessionId, { handle, checking: false, again: false });
  }

  untrack(sessionId: string): void {
    const entry = this.tracked.get(sessionId);
    if (!entry) return;
    this.tracked.delete(sessionId);
    this.options.onUntrack?.(sessionId, entry.handle);
  }

  /** The tracked sessions and their handles. */
  entries(): IterableIterator<[string, H]> {
    return Array.from(this.tracked, ([id, entry]): [string, H] => [id, entry.handle])[Symbol.iterator]();
  }

  /** Tells every listener that `sessionId` has ended, as `state` (a handle nothing can watch). */
  tell(sessionId: string, state: E): void {
    queueMicrotask(() => {
      for (const listener of [...this.listeners]) listener(sessionId, state);
    });
  }

  /** Inspects one tracked session and tells its end; one inspection at a time per session. */
  check(sessionId: string): void {
    const entry = this.tracked.get(sessionId);
    if (!entry || this.closed) return;
    if (entry.checking) {
      entry.again = true;
      return;
    }
    entry.checking = true;
    this.options.inspect(sessionId, entry.handle).then(
      (state) => {
        entry.checking = false;
        if (this.tracked.get(sessionId) !== entry) return;
        if (state.state === 'ended') for (const listener of [...this.listeners]) listener(sessionId, state as E);
        else if (entry.again) {
          entry.again = false;
          this.check(sessionId);
        }
      },
      (err: unknown) => {
        entry.checking = false;
        this.options.onInspectError?.(sessionId, err);
      },
    );
  }

  /** Adds a listener; the safety poll runs while there is one. Returns the function that removes it. */
  watch(listener: (sessionId: string, state: E) => void): () => void {
    this.listeners.add(listener);
    if (!this.pollTimer && !this.closed) {
      // The safety net: a runtime's own wake-ups can be missed (a keeper killed with -9 writes no
      // exit.json; the Engine's event stream loses events while it reconnects).
      this.pollTimer = setInterval(() => {
        for (const id of this.tracked.keys()) this.check(id);
      }, this.options.pollIntervalMs);
      this.pollTimer.unref();
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size > 0) return;
      this.stopPolling();
    };
  }

  get listening(): boolean {
    return this.listeners.size > 0;
  }

  /** Stops watching everything; what is tracked is let go. */
  close(): void {
    this.closed = true;
    this.stopPolling();
    for (const id of [...this.tracked.keys()]) this.untrack(id);
  }

  private stopPolling(): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
  }
}
