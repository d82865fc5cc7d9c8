// The one state machine, on its own: every status against every observation, as a table.
import t from 'tap';
import { SESSION_STATUSES, isTerminalStatus, type SessionRecord, type SessionStatus } from '../../schemas/session.js';
import { allowed, transition, type Observation } from '../../src/sessions/transitions.js';
import { makeRecord } from '../fakes/records.js';

const NOW = '2026-12-01T12:00:00.000Z';
const handle = { pid: 4242 };

const OBSERVATIONS: Record<string, Observation> = {
  admitted: { kind: 'admitted' },
  launched: { kind: 'launched', handle, pid: 4242 },
  failed: { kind: 'failed', reason: 'spawn ENOENT' },
  stop_requested: { kind: 'stop_requested', reason: 'requested' },
  ended_ok: { kind: 'ended', exit_code: 0, exit_signal: null, ended_at: '2026-12-01T11:59:59.000Z', report: null, last_activity: null },
  ended_unknown: { kind: 'ended', exit_code: null, exit_signal: null, ended_at: null, report: null, last_activity: null },
};

/** What each observation must make of each status: the new status, or null for "nothing". */
const EXPECTED: Record<SessionStatus, Record<keyof typeof OBSERVATIONS, SessionStatus | 'same' | null>> = {
  queued: { admitted: 'starting', launched: null, failed: null, stop_requested: 'stopped', ended_ok: null, ended_unknown: null },
  starting: { admitted: null, launched: 'running', failed: 'failed', stop_requested: 'same', ended_ok: 'exited', ended_unknown: 'exited' },
  running: { admitted: null, launched: null, failed: null, stop_requested: 'same', ended_ok: 'exited', ended_unknown: 'exited' },
  exited: { admitted: null, launched: null, failed: null, stop_requested: null, ended_ok: null, ended_unknown: null },
  completed: { admitted: null, launched: null, failed: null, stop_requested: null, ended_ok: null, ended_unknown: null },
  completed_missing_report: { admitted: null, launched: null, failed: null, stop_requested: null, ended_ok: null, ended_unknown: null },
  failed: { admitted: null, launched: null, failed: null, stop_requested: null, ended_ok: null, ended_unknown: null },
  stopped: { admitted: null, launched: null, failed: null, stop_requested: null, ended_ok: null, ended_unknown: null },
  terminated: { admitted: null, launched: null, failed: null, stop_requested: null, ended_ok: null, ended_unknown: null },
};

const record = (status: SessionStatus, extra: Partial<SessionRecord> = {}) => makeRecord({ id: 'table-1', status, ...extra });

t.test('every status against every observation', async (t) => {
  for (const status of SESSION_STATUSES) {
    for (const [name, observation] of Object.entries(OBSERVATIONS)) {
      const before = record(status);
      const frozen = structuredClone(before);
      const result = transition(before, observation, NOW);
      const want = EXPECTED[status][name];
      t.same(before, frozen, `${status} + ${name}: the input record is not changed (pure)`);
      if (want === null) {
        t.equal(result, null, `${status} + ${name}: nothing`);
        continue;
      }
      t.ok(result, `${status} + ${name}: a change`);
      if (!result) continue;
      const next = want === 'same' ? status : want;
      t.equal(result.record.status, next, `${status} + ${name} -> ${next}`);
      const event = want === 'same' ? null : next === 'running' ? 'session.started' : next === 'starting' ? 'session.status' : 'session.ended';
      t.equal(result.event, event, `${status} + ${name}: its event`);
    }
  }
});

t.test('the guards, as a rule over every pair of statuses', async (t) => {
  for (const from of SESSION_STATUSES) {
    for (const to of SESSION_STATUSES) {
      const ok = allowed(from, to);
      if (isTerminalStatus(from)) t.notOk(ok, `${from} is final: never ${to}`);
      else if (to === 'running') t.equal(ok, from === 'starting', `running only follows starting (${from})`);
      else if (from === to) t.notOk(ok, `${from} -> ${from} is no change`);
      if (from === 'running' && to === 'starting') t.notOk(ok, 'nothing goes backwards');
      if (to === 'queued') t.notOk(ok, `nothing goes back to queued (${from})`);
    }
  }
});

t.test('how an end reads: stop requests, reports and unknown exits', async (t) => {
  const ended = OBSERVATIONS.ended_ok as Extract<Observation, { kind: 'ended' }>;
  const stopped = transition(record('running', { stop_requested_at: NOW, stop_reason: 'requested' }), { ...ended, exit_code: null, exit_signal: 'SIGTERM' }, NOW);
  t.match(stopped?.record, { status: 'stopped', stop_reason: 'requested', exit_signal: 'SIGTERM' });
  const terminated = transition(record('running', { stop_requested_at: NOW, stop_reason: 'requested', expects_report: true }), ended, NOW);
  t.match(terminated?.record, { status: 'terminated', stop_reason: 'requested' });
  t.match(transition(record('running', { expects_report: true }), { ...ended, report: true }, NOW)?.record, { status: 'completed', stop_reason: null });
  t.match(transition(record('running', { expects_report: true }), { ...ended, report: false }, NOW)?.record, { status: 'completed_missing_report' });
  t.match(transition(record('running'), ended, NOW)?.record, { status: 'exited', exit_code: 0, stopped_at: ended.ended_at, status_reason: null });
  const unknown = transition(record('running'), OBSERVATIONS.ended_unknown as Observation, NOW);
  t.match(unknown?.record, { status: 'exited', stopped_at: NOW, status_reason: /without a recorded exit status/ });
  const failed = transition(record('starting'), OBSERVATIONS.failed as Observation, NOW);
  t.match(failed?.record, { status: 'failed', status_reason: 'spawn ENOENT', stopped_at: NOW });
  const launched = transition(record('starting'), OBSERVATIONS.launched as Observation, NOW);
  t.match(launched?.record, { status: 'running', pid: 4242, handle });
  t.equal(transition(record('running', { stop_requested_at: NOW }), OBSERVATIONS.stop_requested as Observation, NOW), null, 'a second stop request changes nothing');
});
