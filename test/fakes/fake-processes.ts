// A scripted ProcessAdapter with no real processes: tests launch, write output, exit and
// terminate "processes" by hand, so manager and route tests run in milliseconds.
import {
  LaunchError,
  type LaunchSpec,
  type PrepareRequest,
  type Prepared,
  type ProcessAdapter,
  type ProcessHandle,
  type ProcessState,
  type WriteOutcome,
} from '../../src/process/adapter.js';
import { OPEN_CHECKS, prepareOnHost, type HostChecks } from '../../src/process/host-prepare.js';

export type FakeStream = 'stdout' | 'stderr';

export interface FakeProcessAdapterOptions {
  /** Receives what tests `write`; typically the memory store's log append. */
  onOutput?: (sessionId: string, stream: FakeStream, data: string) => void | Promise<void>;
  /** What prepare checks, as the local runtime does on this host (the app's config). Default: anything, anywhere. */
  checks?: HostChecks;
}

export interface FakeProcessAdapter extends ProcessAdapter {
  /** Every spec passed to launch, in order, failed launches included. */
  readonly launched: LaunchSpec[];
  /** Every signal terminate or signal "sent", in order. */
  readonly signals: Array<{ sessionId: string; signal: string }>;
  /** The sessions whose handles were released (deleted), in order. */
  readonly released: string[];
  /** Everything writeInput took, in order, as text. */
  readonly inputs: Array<{ sessionId: string; text: string }>;
  /** How many times inspect was called (reads must not call it). */
  inspections: number;
  /** When set, the next launch rejects with LaunchError(this message); then it is cleared. */
  failNextLaunch: string | null;
  /** Passes output on to onOutput, as if the process had written it. */
  write(sessionId: string, stream: FakeStream, data: string): Promise<void>;
  /**
   * Ends the process, as the real watch would see it; resolves once the watcher (the supervisor)
   * has recorded the end. A no-op if it has already ended.
   */
  exit(sessionId: string, code: number | null, signal?: string | null): Promise<void>;
  isRunning(sessionId: string): boolean;
  /** Makes the process ignore SIGTERM: terminate then kills it after its grace. */
  ignoreTerm(sessionId: string): void;
}

/** The handle a fake launch returns: the fake pid, and the session it stands for. */
export type FakeHandle = ProcessHandle & { fake_id: string };

interface FakeProcess {
  pid: number;
  state: ProcessState;
  ignoresTerm: boolean;
  /** Launched with a stdin pipe. */
  input: boolean;
  /** Called once when the process ends. */
  onEnd: Set<() => void>;
}

type Ended = Extract<ProcessState, { state: 'ended' }>;
const ENDED_UNKNOWN: Ended = { state: 'ended', exit_code: null, exit_signal: null, ended_at: null };

export function createFakeProcessAdapter(options: FakeProcessAdapterOptions = {}): FakeProcessAdapter {
  const processes = new Map<string, FakeProcess>();
  const timers = new Set<NodeJS.Timeout>();
  // Pending waits, so close() can settle them.
  const waits = new Set<() => void>();

  const get = (sessionId: string): FakeProcess => {
    const found = processes.get(sessionId);
    if (!found) throw new Error(`fake processes: no session ${sessionId} was launched`);
    return found;
  };

  const find = (handle: ProcessHandle): FakeProcess | undefined => {
    const id = (handle as Partial<FakeHandle>).fake_id;
    return typeof id === 'string' ? processes.get(id) : undefined;
  };

  let onEnded: ((sessionId: string, state: Ended) => unknown) | null = null;
  const bySession = new Map<string, FakeHandle>();
  const tracked = new Set<string>();

  /** Tells the watcher, and resolves once it has handled the end (the supervisor's write included). */
  const tell = async (sessionId: string, state: ProcessState): Promise<void> => {
    if (state.state !== 'ended' || !tracked.has(sessionId)) return;
    await onEnded?.(sessionId, state);
  };

  const end = (sessionId: string, proc: FakeProcess, code: number | null, signal: string | null): Promise<void> => {
    if (proc.state.state === 'ended') return Promise.resolve();
    proc.state = { state: 'ended', exit_code: code, exit_signal: signal, ended_at: new Date().toISOString() };
    for (const notify of [...proc.onEnd]) notify();
    proc.onEnd.clear();
    return tell(sessionId, proc.state);
  };

  /** Resolves with the state once the process ends or after `ms` (real time), whichever first. */
  const waitFor = (proc: FakeProcess, ms: number): Promise<ProcessState> =>
    new Promise((resolve) => {
      if (proc.state.state === 'ended') return resolve(proc.state);
      const settle = (): void => {
        clearTimeout(timer);
        timers.delete(timer);
        proc.onEnd.delete(settle);
        waits.delete(settle);
        resolve(proc.state);
      };
      const timer = setTimeout(settle, ms);
      timers.add(timer);
      proc.onEnd.add(settle);
      waits.add(settle);
    });

  const adapter: FakeProcessAdapter = {
    launched: [],
    signals: [],
    inputs: [],
    released: [],
    inspections: 0,
    failNextLaunch: null,

    prepare(request: PrepareRequest): Promise<Prepared> {
      // The same checks as the local runtime: a fake start is refused where a real one would be.
      return prepareOnHost(request, options.checks ?? OPEN_CHECKS, request.runtime === 'docker' ? 'container' : 'host');
    },

    async launch(spec: LaunchSpec): Promise<ProcessHandle> {
      adapter.launched.push(spec);
      if (adapter.failNextLaunch !== null) {
        const message = adapter.failNextLaunch;
        adapter.failNextLaunch = null;
        throw new LaunchError(message);
      }
      const pid = 10000 + adapter.launched.length;
      processes.set(spec.sessionId, { pid, state: { state: 'running' }, ignoresTerm: false, input: spec.input === true, onEnd: new Set() });
      const handle: FakeHandle = { pid, fake_id: spec.sessionId };
      bySession.set(spec.sessionId, handle);
      return handle;
    },

    async inspect(handle: ProcessHandle): Promise<ProcessState> {
      adapter.inspections += 1;
      return find(handle)?.state ?? ENDED_UNKNOWN;
    },

    async terminate(handle: ProcessHandle, graceMs: number): Promise<ProcessState> {
      const proc = find(handle);
      if (!proc) return ENDED_UNKNOWN;
      if (proc.state.state === 'ended') return proc.state;
      const sessionId = (handle as FakeHandle).fake_id;
      adapter.signals.push({ sessionId, signal: 'SIGTERM' });
      if (!proc.ignoresTerm) {
        void end(sessionId, proc, null, 'SIGTERM');
        return proc.state;
      }
      // A test may still end it by hand during the grace.
      await waitFor(proc, graceMs);
      if (proc.state.state === 'running') {
        adapter.signals.push({ sessionId, signal: 'SIGKILL' });
        void end(sessionId, proc, null, 'SIGKILL');
      }
      return proc.state;
    },

    watch(listener): () => void {
      onEnded = listener;
      return () => {
        if (onEnded === listener) onEnded = null;
      };
    },

    track(sessionId: string, handle: ProcessHandle): void {
      const proc = find(handle);
      tracked.add(sessionId);
      // Adopted already ended: say so, as the real watch would on its first look.
      if (!proc || proc.state.state === 'ended') void tell(sessionId, proc?.state ?? ENDED_UNKNOWN);
    },

    untrack(sessionId: string): void {
      tracked.delete(sessionId);
    },

    async find(sessionId: string): Promise<ProcessHandle | null> {
      // What a launch for this session made, while this adapter lives (a fake "restart" keeps the
      // same adapter): adopted as the real adapters adopt from their files.
      return bySession.get(sessionId) ?? null;
    },

    containment() {
      // Fake processes start nothing: the weakest containment, so nothing claims more.
      return 'process-group' as const;
    },

    async close(): Promise<void> {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      // A wait cut short by shutdown reports what is true now.
      for (const settle of [...waits]) settle();
    },

    async signal(handle: ProcessHandle, signal: 'SIGINT' | 'SIGTERM'): Promise<boolean> {
      const proc = find(handle);
      if (!proc || proc.state.state === 'ended') return false;
      const sessionId = (handle as FakeHandle).fake_id;
      adapter.signals.push({ sessionId, signal });
      // SIGTERM's default action ends a process; SIGINT is taken as an agent takes it (it goes on).
      if (signal === 'SIGTERM' && !proc.ignoresTerm) void end(sessionId, proc, null, 'SIGTERM');
      return true;
    },

    async release(handle: ProcessHandle): Promise<void> {
      const id = (handle as Partial<FakeHandle>).fake_id;
      if (typeof id === 'string') adapter.released.push(id);
    },

    async writeInput(handle: ProcessHandle, bytes: Buffer): Promise<WriteOutcome> {
      const proc = find(handle);
      if (!proc || proc.state.state === 'ended') return 'ended';
      if (!proc.input) return 'not_interactive';
      adapter.inputs.push({ sessionId: (handle as FakeHandle).fake_id, text: bytes.toString('utf8') });
      return 'written';
    },

    async write(sessionId: string, stream: FakeStream, data: string): Promise<void> {
      get(sessionId);
      await options.onOutput?.(sessionId, stream, data);
    },

    exit(sessionId: string, code: number | null, signal: string | null = null): Promise<void> {
      return end(sessionId, get(sessionId), code, signal);
    },

    isRunning(sessionId: string): boolean {
      return processes.get(sessionId)?.state.state === 'running';
    },

    ignoreTerm(sessionId: string): void {
      get(sessionId).ignoresTerm = true;
    },
  };
  return adapter;
}
