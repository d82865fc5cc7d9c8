// One `?follow=true` client: the log's raw bytes from a position, then new bytes as they are
// written, ending when the session has ended and everything was sent (curl -N is tail -f).
import type { ServerResponse } from 'node:http';
import type { LogStreamName, SessionStore } from '../store/store.js';
import { LogFollower } from './follower.js';
import type { LogHub } from './hub.js';
import { hasEnded, type SessionWatch } from './session-watch.js';
import type { Session } from '../../schemas/session.js';
import { drained } from './sse.js';
import { LinePrefixer } from './timestamps.js';
import { Wakeup } from './wakeup.js';

const READ_CHUNK = 64 * 1024;

export interface RawFollowOptions {
  store: SessionStore;
  hub: LogHub;
  watch: SessionWatch;
  session: Session;
  stream: LogStreamName;
  start: number;
  /** Prefix each line with the time of its first byte. */
  timestamps: boolean;
  res: ServerResponse;
}

export async function runRawFollow(options: RawFollowOptions): Promise<void> {
  const { res, session } = options;
  const follower = new LogFollower(options.store, session.id, options.stream, options.start);
  const prefixer = options.timestamps ? new LinePrefixer(options.store, session.id, options.stream, options.start) : null;
  const wakeup = new Wakeup();
  let ended = hasEnded(session);
  let gone = false;
  const unsubscribe = [
    options.hub.subscribe(session.id, options.stream, () => wakeup.wake()),
    options.watch.subscribe(session.id, (next) => {
      if (next === null) gone = true;
      else if (hasEnded(next)) ended = true;
      wakeup.wake();
    }),
  ];
  const release = () => {
    for (const off of unsubscribe.splice(0)) off();
    wakeup.wake();
  };
  res.once('close', release);
  const open = () => !res.destroyed && !res.writableEnded;

  try {
    while (open() && !gone) {
      const endedBeforePass = ended;
      const read = await follower.read(READ_CHUNK);
      if (read.kind === 'data') {
        // The client may have gone while we read: then there is nothing to wait for.
        if (!open()) break;
        // Wait for the socket to take it before reading more: a slow client costs one chunk.
        const out = prefixer ? await prefixer.push(read.chunk) : read.chunk;
        if (!open()) break;
        if (!res.write(out)) await drained(res);
        // Read to the end of the log while the session lives: the next bytes wake us.
        if (follower.atEnd && !ended) await wakeup.sleep(Number.POSITIVE_INFINITY);
        continue;
      }
      // A truncated log simply goes on from its new end: raw bytes have no way to say so.
      if (read.kind === 'truncated') continue;
      // The cap dropped bytes not sent yet (the client fell behind the window): raw bytes cannot
      // say so either, and skipping them silently would shift every offset the client counts.
      // The response is aborted, so the client sees an error (curl exits 18) and can resume.
      if (read.kind === 'dropped') {
        res.destroy();
        return;
      }
      if (endedBeforePass) return;
      await wakeup.sleep(Number.POSITIVE_INFINITY);
    }
  } finally {
    release();
    follower.close();
    if (!res.writableEnded) res.end();
  }
}
