// The agent summary through the one pure transition: a live session's changed summary is a
// `session.status` event; nothing else (the same summary, a queued, ended or plain session) is;
// the end records the final summary it is given.
import t from 'tap';
import { SESSION_STATUSES, isTerminalStatus } from '../../schemas/session.js';
import { emptySummary, foldMessage } from '../../src/agent/summary.js';
import { transition } from '../../src/sessions/transitions.js';
import { makeRecord } from '../fakes/records.js';

const NOW = '2026-12-01T12:00:00.000Z';
const before = emptySummary();
const after = foldMessage(before, { type: 'system', subtype: 'init', session_id: 'abc-123', model: 'm' }, NOW);

t.test('an agent observation, for every status', async (t) => {
  for (const status of SESSION_STATUSES) {
    const change = transition(makeRecord({ status, agent: before }), { kind: 'agent', agent: after }, NOW);
    if (status === 'starting' || status === 'running') {
      t.same(change?.event, 'session.status', `${status}: recorded, with an event`);
      t.same(change?.record.agent, after);
      t.equal(change?.record.status, status, `${status}: the status does not move`);
    } else {
      t.equal(change, null, `${status}: ${isTerminalStatus(status) ? 'the end recorded the final summary' : 'no process yet'}; nothing changes`);
    }
  }
  t.equal(transition(makeRecord({ agent: after }), { kind: 'agent', agent: after }, NOW), null, 'the same summary: nothing');
  t.equal(transition(makeRecord({ agent: null }), { kind: 'agent', agent: after }, NOW), null, 'a plain session never gets one');
});

t.test('the end records the final summary it is given, else keeps the one it has', async (t) => {
  const ended = { kind: 'ended', exit_code: 0, exit_signal: null, ended_at: NOW, report: null, last_activity: null } as const;
  t.same(transition(makeRecord({ agent: before }), { ...ended, agent: after }, NOW)?.record.agent, after);
  t.same(transition(makeRecord({ agent: after }), ended, NOW)?.record.agent, after);
  t.same(transition(makeRecord({ agent: null }), ended, NOW)?.record.agent, null);
});
