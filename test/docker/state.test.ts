// How a container's end reads (no engine needed): an exit code as is, 128+n as the signal n (what
// docker-init reports for a command killed by a signal), an out-of-memory kill as SIGKILL with a
// reason naming memory whatever the exit code, and the engine's zero time as no end time.
import t from 'tap';
import { endedFromState, isLive, OOM_REASON } from '../../src/process/docker-state.js';

const FINISHED = '2026-12-02T00:14:57.939587688Z';

t.test('exit codes, signals and the memory limit', async (t) => {
  t.same(endedFromState({ ExitCode: 3, FinishedAt: FINISHED }), { state: 'ended', exit_code: 3, exit_signal: null, ended_at: FINISHED });
  t.same(endedFromState({ ExitCode: 0, FinishedAt: FINISHED }).exit_code, 0);
  t.same(endedFromState({ ExitCode: 128 + 15 }), { state: 'ended', exit_code: null, exit_signal: 'SIGTERM', ended_at: null }, '143 is SIGTERM');
  t.same(endedFromState({ ExitCode: 128 + 2 }).exit_signal, 'SIGINT');
  t.same(endedFromState({ ExitCode: 128 }).exit_code, 128, '128 is an exit code');
  t.same(endedFromState({ ExitCode: 255 }).exit_code, 255, '255 names no signal');
  t.same(endedFromState({ ExitCode: 1, OOMKilled: true, FinishedAt: FINISHED }), { state: 'ended', exit_code: null, exit_signal: 'SIGKILL', ended_at: FINISHED, reason: OOM_REASON }, 'OOM');
  t.same(endedFromState({ FinishedAt: '0001-01-01T00:00:00Z' }), { state: 'ended', exit_code: null, exit_signal: null, ended_at: null }, 'nothing known');
});

t.test('live states', async (t) => {
  t.ok(isLive({ Running: true }));
  t.ok(isLive({ Paused: true }));
  t.ok(isLive({ Restarting: true }));
  t.notOk(isLive({ Running: false, Status: 'exited' }));
  t.notOk(isLive({ Status: 'created' }));
});
