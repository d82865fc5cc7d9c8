// The scheduler: what the service enforces over time, whether or not anyone reads a session.
// Time limits (max runtime from started_at, idleness from the last output the watch saw, so both
// hold across a restart) end a session gracefully with its stop_reason; the retention sweep
// deletes ended sessions once they are old enough. Timers only: nothing here runs per request.
import { isTerminalStatus, type SessionRecord } from '../../schemas/session.js';
import type { StopReason } from './transitions.js';
import type { ListedRecord } from '../store/store.js';

export interface SchedulerOptions {
  clock: () => Date;
  /** How long an ended session is kept; 0 keeps forever. */
  retentionMs: number;
  /** The records of the live sessions (starting or running). */
  live(): Promise<SessionRecord[]>;
  /** Every record (for the retention sweep). */
  all(): Promise<ListedRecord[]>;
  /** The last output seen of a live session (ms), or null. */
  lastActivityMs(id: string): number | null;
  /** Ends a session gracefully, with the reason. */
  stop(id: string, reason: StopReason): Promise<unknown>;
  /** Deletes an ended session (its record, logs and state). */
  remove(id: string): Promise<unknown>;
  log: { info(obj: object, msg: string): void; error(obj: object, msg: string): void };
}

/** How often limits are checked: a limit is enforced at most this late. */
const LIMIT_TICK_MS = 250;
/** The retention sweep runs every quarter of the retention, within these bounds. */
const SWEEP_MIN_MS = 100;
const SWEEP_MAX_MS = 60_000;

/** Which limit, if any, `record` has run past at `now` (ms). */
export function limitReached(record: SessionRecord, now: number, lastActivityMs: number | null): StopReason | null {
  if (record.status !== 'running') return null;
  const started = Date.parse(record.started_at);
  if (record.max_runtime_ms !== null && now - started >= record.max_runtime_ms) return 'max_runtime';
  if (record.idle_timeout_ms !== null) {
    const last = Math.max(lastActivityMs ?? 0, record.last_activity ? Date.parse(record.last_activity) : 0, started);
    if (now - last >= record.idle_timeout_ms) return 'idle';
  }
  return null;
}

/** Whether an ended session is old enough to go. */
export function expired(record: ListedRecord, now: number, retentionMs: number): boolean {
  if (retentionMs <= 0 || !isTerminalStatus(record.status) || record.stopped_at === null) return false;
  return now - Date.parse(record.stopped_at) >= retentionMs;
}

export function createScheduler(options: SchedulerOptions) {
  const ending = new Set<string>();
  const timers: NodeJS.Timeout[] = [];
  let checking = false;
  let sweeping = false;

  const checkLimits = async (): Promise<void> => {
    if (checking) return;
    checking = true;
    try {
      const now = options.clock().getTime();
      for (const record of await options.live()) {
        if (ending.has(record.id)) continue;
        const reason = limitReached(record, now, options.lastActivityMs(record.id));
        if (!reason) continue;
        ending.add(record.id);
        options.log.info({ id: record.id, reason }, 'a session reached its limit: stopping it');
        options
          .stop(record.id, reason)
          .catch((err: unknown) => options.log.error({ err, id: record.id }, 'could not stop a session at its limit'))
          .finally(() => ending.delete(record.id));
      }
    } finally {
      checking = false;
    }
  };

  const sweep = async (): Promise<void> => {
    if (sweeping) return;
    sweeping = true;
    try {
      const now = options.clock().getTime();
      for (const record of await options.all()) {
        if (!expired(record, now, options.retentionMs)) continue;
        await options.remove(record.id).catch((err: unknown) => options.log.error({ err, id: record.id }, 'retention could not delete a session'));
      }
    } finally {
      sweeping = false;
    }
  };

  const every = (ms: number, work: () => Promise<void>): void => {
    const timer = setInterval(() => void work(), ms);
    // Timers never keep the service alive on their own.
    timer.unref();
    timers.push(timer);
  };

  return {
    start(): void {
      every(LIMIT_TICK_MS, checkLimits);
      if (options.retentionMs > 0) every(Math.min(SWEEP_MAX_MS, Math.max(SWEEP_MIN_MS, Math.floor(options.retentionMs / 4))), sweep);
    },
    close(): void {
      for (const timer of timers.splice(0)) clearInterval(timer);
    },
  };
}
