// What a live SSE stream follows besides bytes: its session's newest status, a status change not
// sent yet, and whether the session is gone. It wakes the stream on new bytes or a change, and
// lets go of every subscription as soon as the client leaves (or the stream is done).
import type { ServerResponse } from 'node:http';
import type { Session } from '../../schemas/session.js';
import { allowed } from '../sessions/transitions.js';
import type { LogStreamName } from '../store/store.js';
import type { LogHub } from './hub.js';
import type { SessionWatch } from './session-watch.js';
import type { Wakeup } from './wakeup.js';

export class FollowedSession {
  /** The newest status known (the one an `end` event carries). */
  latest: Session;
  /** The session was deleted: the stream stops. */
  gone = false;
  private due: Session | null = null;
  private readonly offs: Array<() => void>;

  constructor(
    shared: { hub: LogHub; watch: SessionWatch },
    session: Session,
    streams: readonly LogStreamName[],
    private readonly wakeup: Wakeup,
    res: ServerResponse,
  ) {
    this.latest = session;
    this.offs = [
      ...streams.map((stream) => shared.hub.subscribe(session.id, stream, () => wakeup.wake())),
      shared.watch.subscribe(session.id, (next) => {
        if (next === null) this.gone = true;
        // Only forward: a change recorded earlier can be told after a later one was read (a
        // start's created event is announced once its journal append is done, which may come
        // after the start's answer and this stream's first read of the session).
        else if (next.status !== this.latest.status && allowed(this.latest.status, next.status)) {
          this.latest = next;
          this.due = next;
        }
        wakeup.wake();
      }),
    ];
    res.once('close', () => this.release());
  }

  /** The status change not sent yet, if any; taking it marks it sent. */
  takeStatus(): Session | null {
    const due = this.due;
    this.due = null;
    return due;
  }

  release(): void {
    for (const off of this.offs.splice(0)) off();
    this.wakeup.wake();
  }
}
