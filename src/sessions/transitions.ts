// The one writer of status: a pure function from (record, observation) to the next record and the
// event it makes, or null when the observation changes nothing. Guards: a final status never
// changes, `running` only follows `starting`, nothing goes backwards. Starts, stops and ends are all
// observations; the supervisor applies them under the session's lock.
import type { EventType } from '../../schemas/events.js';
import type { AgentSummary } from '../../schemas/agent.js';
import { isTerminalStatus, type ProcessHandle, type SessionRecord, type SessionStatus } from '../../schemas/session.js';
import { sameSummary } from '../agent/summary.js';

export type StopReason = NonNullable<SessionRecord['stop_reason']>;

export type Observation =
  /** A queued session got capacity: it starts now (its limits count from here). */
  | { kind: 'admitted' }
  /** The runtime confirmed the process runs (a launch, or an adoption at start-up). */
  | { kind: 'launched'; handle: ProcessHandle; pid: number | null }
  /** The process could not be started, or its start was never confirmed. */
  | { kind: 'failed'; reason: string }
  /** Someone asked the service to end it (an API stop or forced delete, or a limit). */
  | { kind: 'stop_requested'; reason: StopReason }
  /**
   * The process has ended. `report` says whether a report.md was found (only asked when the
   * session expects one and was not stopped); null exit fields mean the status is unknown.
   */
  | {
      kind: 'ended';
      exit_code: number | null;
      exit_signal: string | null;
      ended_at: string | null;
      /** The runtime's word on why it ended (a container killed for memory); absent: none. */
      reason?: string;
      report: boolean | null;
      last_activity: string | null;
      /** The agent summary with every message parsed, for an agent session; absent: unchanged. */
      agent?: AgentSummary | null;
    }
  /**
   * The agent summary of a live session changed (the agent tracker says so at most once a
   * second). Not a status change, but recorded with a `session.status` event so followers see it.
   */
  | { kind: 'agent'; agent: AgentSummary };

export interface Transition {
  record: SessionRecord;
  /** The event to record, or null for a change that is not a status change (a stop request). */
  event: EventType | null;
}

/** Where a status stands in the one direction sessions move. */
const RANK: Record<SessionStatus, number> = {
  queued: 0,
  starting: 1,
  running: 2,
  exited: 3,
  completed: 3,
  completed_missing_report: 3,
  failed: 3,
  stopped: 3,
  terminated: 3,
};

/** Whether moving from `from` to `to` is allowed at all (the table the tests walk). */
export function allowed(from: SessionStatus, to: SessionStatus): boolean {
  if (isTerminalStatus(from)) return false;
  if (to === 'running') return from === 'starting';
  return RANK[to] > RANK[from];
}

/** The final status of a session that ended, from how it ended. */
export function endStatus(record: SessionRecord, report: boolean | null): SessionStatus {
  if (record.stop_requested_at) return record.expects_report ? 'terminated' : 'stopped';
  if (record.expects_report) return report ? 'completed' : 'completed_missing_report';
  return 'exited';
}

/** The next record and its event, or null when `observation` changes nothing. `now` is RFC 3339. */
export function transition(record: SessionRecord, observation: Observation, now: string): Transition | null {
  switch (observation.kind) {
    case 'admitted': {
      if (record.status !== 'queued') return null;
      return { record: { ...record, status: 'starting', started_at: now }, event: 'session.status' };
    }
    case 'launched': {
      if (!allowed(record.status, 'running')) return null;
      return {
        record: { ...record, status: 'running', status_reason: null, pid: observation.pid, handle: observation.handle },
        event: 'session.started',
      };
    }
    case 'failed': {
      if (!allowed(record.status, 'failed') || record.status !== 'starting') return null;
      return {
        record: { ...record, status: 'failed', status_reason: observation.reason, stopped_at: now },
        event: 'session.ended',
      };
    }
    case 'stop_requested': {
      if (isTerminalStatus(record.status) || record.stop_requested_at) return null;
      if (record.status === 'queued') {
        // Nothing runs yet: the session ends here, without a process.
        return {
          record: { ...record, status: 'stopped', stopped_at: now, stop_requested_at: now, stop_reason: observation.reason },
          event: 'session.ended',
        };
      }
      return { record: { ...record, stop_requested_at: now, stop_reason: observation.reason }, event: null };
    }
    case 'ended': {
      // A queued session has no process that could have ended.
      if (record.status === 'queued') return null;
      const status = endStatus(record, observation.report);
      if (!allowed(record.status, status)) return null;
      const unknown = observation.exit_code === null && observation.exit_signal === null;
      return {
        record: {
          ...record,
          status,
          status_reason: observation.reason ?? (unknown ? 'the process ended without a recorded exit status' : null),
          exit_code: observation.exit_code,
          exit_signal: observation.exit_signal,
          stopped_at: observation.ended_at ?? now,
          last_activity: observation.last_activity ?? record.last_activity,
          // Only the service's own stop has a reason; an end the process chose has none.
          stop_reason: record.stop_requested_at ? (record.stop_reason ?? 'requested') : null,
          agent: observation.agent ?? record.agent,
        },
        event: 'session.ended',
      };
    }
    case 'agent': {
      // An ended session's summary is the one its end recorded (with every message parsed); a
      // late update from before the end must not replace it.
      if (record.status === 'queued' || isTerminalStatus(record.status) || record.agent === null) return null;
      if (sameSummary(record.agent, observation.agent)) return null;
      return { record: { ...record, agent: observation.agent }, event: 'session.status' };
    }
  }
}
