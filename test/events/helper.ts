// Event test kit: sessions to put in events, a logger that keeps what it was told, a hand-driven clock.
import type { Session } from '../../schemas/session.js';
import { makeRecord } from '../fakes/records.js';

/** A public Session (the record without what only the service keeps), overridable field by field. */
export function makeSession(overrides: Partial<Session> = {}): Session {
  const { handle: _handle, stop_requested_at: _stop, ...session } = makeRecord(overrides as never);
  return { ...session, ...overrides } as Session;
}

export interface Logged {
  level: 'info' | 'warn' | 'error';
  obj: Record<string, unknown>;
  msg: string;
}

/** A logger that records, so a test can see that damage was reported and nothing failed silently. */
export function recordingLog() {
  const entries: Logged[] = [];
  const at = (level: Logged['level']) => (obj: object, msg: string) => void entries.push({ level, obj: obj as Record<string, unknown>, msg });
  return { entries, info: at('info'), warn: at('warn'), error: at('error'), warnings: () => entries.filter((e) => e.level === 'warn') };
}

/** A clock the test moves by hand. */
export function manualClock(start = Date.parse('2026-01-01T00:00:00.000Z')) {
  let now = start;
  return {
    now: () => new Date(now),
    advance(ms: number) {
      now += ms;
    },
  };
}
