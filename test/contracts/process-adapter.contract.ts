// The ProcessAdapter contract: what every runtime (local processes, Docker containers, the fake)
// promises the service through the port alone. Each runtime's test file runs it with a driver
// that turns the contract's programs into its own (sh scripts on the host or in a container; a
// script of writes and exits for the fake).
import type { Test } from 'tap';
import { realpathSync } from 'node:fs';
import os from 'node:os';
import type { RuntimeName } from '../../schemas/runtime.js';
import { LaunchError, type LaunchSpec, type PrepareRequest, type ProcessAdapter, type ProcessHandle, type ProcessState } from '../../src/process/adapter.js';
import type { HostChecks } from '../../src/process/host-prepare.js';

/** What a session's program does; a driver makes it so in its runtime. */
export type Program =
  | { kind: 'exit'; code: number; stdout: string; stderr: string }
  /** Runs until signalled, with every signal's default action. */
  | { kind: 'sleep' }
  /** Exits with `code` on SIGTERM; writes `ready` to stdout once it is so. */
  | { kind: 'trap-term'; code: number }
  /** Ignores SIGTERM (only SIGKILL ends it); writes `ready` to stdout once it is so. */
  | { kind: 'ignore-term' }
  /** Reads one line of stdin, writes `got <line>` to stdout and exits 0. */
  | { kind: 'echo-input' }
  /** A command that does not exist. */
  | { kind: 'missing' };

/**
 * The checks every runtime under test is made with: `sh` allowed (on the tests' PATH), the
 * system's temporary folder as the one workspace root.
 */
export const CONTRACT_CHECKS: HostChecks = {
  allowedCommands: ['sh'],
  path: process.env.PATH ?? '/usr/bin:/bin',
  workspaceRoots: [realpathSync(os.tmpdir())],
};

export interface RuntimeUnderTest {
  /** Made with CONTRACT_CHECKS. */
  adapter: ProcessAdapter;
  /** Which runtime this is (what a PrepareRequest names). */
  runtime: RuntimeName;
  /** An existing folder inside CONTRACT_CHECKS' root. */
  workspace: string;
  /** A launch spec for `program` (its own log files and state folder). */
  spec(program: Program, extra?: Partial<LaunchSpec>): LaunchSpec;
  /** Launches `spec` as the service would, and plays the program where the runtime is not real. */
  launch(spec: LaunchSpec, program: Program): Promise<ProcessHandle>;
  /** What the session wrote to `stream`, as the runtime recorded it. */
  output(spec: LaunchSpec, stream: 'stdout' | 'stderr'): Promise<string>;
  /** A new adapter over the same state, as after a restart of the service (the old one closed). */
  restart(): Promise<ProcessAdapter>;
  /** The runtime runs real programs: signals and stdin reach them (the fake only records). */
  real: boolean;
}

export type MakeRuntime = (t: Test) => Promise<RuntimeUnderTest>;

type Ended = Extract<ProcessState, { state: 'ended' }>;

/** Waits until the program said `ready` (its trap is in place). */
async function ready(r: RuntimeUnderTest, spec: LaunchSpec): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await r.output(spec, 'stdout')).includes('ready')) {
    if (Date.now() > deadline) throw new Error(`${spec.sessionId} never said ready`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The end as `watch` reports it (no inspect in between). */
function endOf(adapter: ProcessAdapter, sessionId: string, handle: ProcessHandle, timeoutMs = 20_000): Promise<Ended> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`no end of ${sessionId} within ${timeoutMs} ms`));
    }, timeoutMs);
    const stop = adapter.watch((id, state) => {
      if (id !== sessionId) return;
      clearTimeout(timer);
      stop();
      resolve(state);
    });
    adapter.track(sessionId, handle);
  });
}

export function runProcessAdapterContract(t: Test, name: string, make: MakeRuntime): void {
  t.test(name, async (t) => {
    t.test('a program that writes and exits: its bytes as written, its exit code, told by watch', async (t) => {
      const r = await make(t);
      const program: Program = { kind: 'exit', code: 3, stdout: 'out é✓\nno newline', stderr: 'err\n' };
      const spec = r.spec(program);
      const handle = await r.launch(spec, program);
      const ended = await endOf(r.adapter, spec.sessionId, handle);
      t.match(ended, { state: 'ended', exit_code: 3, exit_signal: null });
      t.equal(await r.output(spec, 'stdout'), 'out é✓\nno newline', 'stdout byte for byte');
      t.equal(await r.output(spec, 'stderr'), 'err\n', 'stderr apart');
      t.match(await r.adapter.inspect(handle), { state: 'ended', exit_code: 3 }, 'inspect agrees');
    });

    t.test('terminate: SIGTERM ends a running program, and its signal is named', async (t) => {
      const r = await make(t);
      const spec = r.spec({ kind: 'sleep' });
      const handle = await r.launch(spec, { kind: 'sleep' });
      t.same(await r.adapter.inspect(handle), { state: 'running' });
      t.match(await r.adapter.terminate(handle, 5_000), { state: 'ended', exit_code: null, exit_signal: 'SIGTERM' });
      t.match(await r.adapter.terminate(handle, 5_000), { state: 'ended' }, 'terminating an ended one is a no-op');
    });

    t.test('terminate: a program that ignores SIGTERM is killed after the grace', async (t) => {
      const r = await make(t);
      const spec = r.spec({ kind: 'ignore-term' });
      const handle = await r.launch(spec, { kind: 'ignore-term' });
      await ready(r, spec);
      t.match(await r.adapter.terminate(handle, 300), { state: 'ended', exit_signal: 'SIGKILL' });
    });

    t.test('terminate: a program that traps SIGTERM ends with its own exit code', async (t) => {
      const r = await make(t);
      if (!r.real) return t.pass('the fake runs no program: there is no trap to play');
      const spec = r.spec({ kind: 'trap-term', code: 7 });
      const handle = await r.launch(spec, { kind: 'trap-term', code: 7 });
      await ready(r, spec);
      t.match(await r.adapter.terminate(handle, 5_000), { state: 'ended', exit_code: 7, exit_signal: null });
    });

    t.test('signal: sent while running, false once ended', async (t) => {
      const r = await make(t);
      const spec = r.spec({ kind: 'sleep' });
      const handle = await r.launch(spec, { kind: 'sleep' });
      t.equal(await r.adapter.signal(handle, 'SIGTERM'), true);
      const ended = await endOf(r.adapter, spec.sessionId, handle);
      t.match(ended, { state: 'ended', exit_signal: 'SIGTERM' }, 'it reached the program');
      t.equal(await r.adapter.signal(handle, 'SIGINT'), false);
    });

    t.test('input: written whole to a session launched with input; refused otherwise and after the end', async (t) => {
      const r = await make(t);
      const spec = r.spec({ kind: 'echo-input' }, { input: true });
      const handle = await r.launch(spec, { kind: 'echo-input' });
      t.equal(await r.adapter.writeInput(handle, Buffer.from('hello there\n')), 'written');
      const ended = await endOf(r.adapter, spec.sessionId, handle);
      t.match(ended, { exit_code: 0 });
      if (r.real) t.equal(await r.output(spec, 'stdout'), 'got hello there\n', 'the program read it');
      t.equal(await r.adapter.writeInput(handle, Buffer.from('late\n')), 'ended', 'input after the end: ended');

      const plainSpec = r.spec({ kind: 'sleep' });
      const plain = await r.launch(plainSpec, { kind: 'sleep' });
      t.equal(await r.adapter.writeInput(plain, Buffer.from('x\n')), 'not_interactive');
      await r.adapter.terminate(plain, 1_000);
    });

    t.test('a command that does not exist is a LaunchError', async (t) => {
      const r = await make(t);
      const err = await r.launch(r.spec({ kind: 'missing' }), { kind: 'missing' }).catch((e: unknown) => e);
      t.ok(err instanceof LaunchError, 'LaunchError');
      t.match((err as Error).message, /not found|no such|does not exist/i);
    });

    t.test('prepare: the command and the folders are checked in the runtime\'s own world, before anything runs', async (t) => {
      const r = await make(t);
      const ask = (request: Partial<PrepareRequest>) =>
        r.adapter.prepare({ command: 'sh', workingDirectory: r.workspace, runtimeWriteRoot: null, runtime: r.runtime, ...request });
      const ok = await ask({ runtimeWriteRoot: r.workspace });
      t.match(ok.executable, /(^|\/)sh$/, 'an allowed command: what will run');
      t.same([ok.workingDirectory, ok.runtimeWriteRoot], [r.workspace, r.workspace], 'the folders, resolved');
      const refused = async (request: Partial<PrepareRequest>, code: string, what: string) => {
        const err = await ask(request).then(
          () => null,
          (e: unknown) => e,
        );
        t.equal((err as { code?: string } | null)?.code, code, `${what}: ${code}`);
      };
      await refused({ command: 'ls' }, 'command_not_allowed', 'a command not in the allow-list');
      await refused({ command: 'sh;reboot' }, 'command_not_allowed', 'shell syntax');
      await refused({ workingDirectory: '/etc' }, 'working_directory_invalid', 'a folder outside the roots');
      await refused({ workingDirectory: 'relative' }, 'working_directory_invalid', 'a relative folder');
      await refused({ workingDirectory: `${r.workspace}/no-such-folder` }, 'working_directory_invalid', 'a missing folder');
      await refused({ runtimeWriteRoot: '/etc' }, 'working_directory_invalid', 'a runtime_write_root outside the roots');
    });

    t.test('after a restart of the service a new adapter finds the session running, and its end', async (t) => {
      const r = await make(t);
      const spec = r.spec({ kind: 'sleep' });
      const handle = await r.launch(spec, { kind: 'sleep' });
      const adapter = await r.restart();
      const recovered = await adapter.find(spec.sessionId);
      t.ok(recovered, 'find adopts it by the session id alone');
      t.same(await adapter.inspect(recovered ?? handle), { state: 'running' });
      t.match(await adapter.terminate(recovered ?? handle, 5_000), { state: 'ended', exit_signal: 'SIGTERM' });
    });
  });
}
