// The service's end of sessiond-launcher (launcher.c): one small process, started on first use,
// that forks and execs keepers, so a start no longer forks the whole server (about 2 ms on the
// event loop for a 100+ MiB process). Requests and answers are framed and matched by id. If the
// launcher dies, what was under way is rejected with LauncherGone (the caller adopts the session
// from its keeper.json, or fails the start) and the next start makes a new launcher. Keepers need
// nothing of it once born: its death costs no session anything.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

/** The launcher went away before answering (killed, crashed): the keeper may or may not be running. */
export class LauncherGone extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LauncherGone';
  }
}

interface Waiting {
  resolve(report: string): void;
  reject(err: Error): void;
}

const HEAD = 16;
const ANSWER_HEAD = 8;

export class KeeperLauncher {
  private child: ChildProcess | null = null;
  private nextId = 1;
  private readonly waiting = new Map<number, Waiting>();
  private pending: Buffer = Buffer.alloc(0);

  constructor(
    private readonly launcherPath: string,
    private readonly keeperPath: string,
  ) {}

  /** The launcher's pid, once one runs (tests kill it). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /**
   * Starts a keeper for `stateDir` with `spec` on its fd 4 and `env` as its environment. Resolves
   * with what the keeper reported on its fd 3 ('' when it closed it without a report).
   */
  start(stateDir: string, spec: Buffer, env: Record<string, string>, timeoutMs: number): Promise<string> {
    const child = this.running();
    const id = this.nextId++;
    const state = Buffer.from(stateDir);
    const envBlock = Buffer.from(Object.entries(env).map(([key, value]) => `${key}=${value}\0`).join(''));
    const head = Buffer.alloc(HEAD);
    head.writeUInt32LE(id, 0);
    head.writeUInt32LE(state.length, 4);
    head.writeUInt32LE(spec.length, 8);
    head.writeUInt32LE(envBlock.length, 12);
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        // An answer that comes later is dropped.
        this.settle(id);
        reject(new Error(`the keeper did not report within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (report) => (clearTimeout(timer), resolve(report)),
        reject: (err) => (clearTimeout(timer), reject(err)),
      });
      // Held open while an answer is awaited, and only then (see running()).
      (child.stdout as unknown as { ref?: () => void }).ref?.();
      (child.stdin as Writable).write(Buffer.concat([head, state, spec, envBlock]));
    });
  }

  /** Ends the launcher (its stdin closes); keepers it started run on. */
  close(): void {
    const child = this.child;
    this.child = null;
    child?.stdin?.end();
    this.failAll('the launcher was closed');
  }

  private running(): ChildProcess {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) return this.child;
    // An empty environment: the service's own (its tokens, say) is nobody else's business, and
    // each keeper gets the sessions' filtered one with its request.
    const child = spawn(this.launcherPath, [this.keeperPath], { stdio: ['pipe', 'pipe', 'ignore'], cwd: '/', env: {} });
    this.child = child;
    this.pending = Buffer.alloc(0);
    // It never keeps the service alive (see the pipes below).
    child.unref();
    (child.stdout as Readable).on('data', (chunk: Buffer) => this.onAnswers(chunk));
    const gone = (why: string) => {
      if (this.child !== child) return;
      this.child = null;
      this.failAll(why);
    };
    child.on('error', (err) => gone(`cannot run the launcher: ${err.message}`));
    child.on('exit', (code, signal) => gone(`the launcher exited (exit code ${code}, signal ${signal})`));
    child.stdin?.on('error', () => undefined);
    // The pipes hold the event loop open only while an answer is awaited: an idle launcher lives
    // as long as the service and never keeps it from exiting.
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    (child.stdout as unknown as { unref?: () => void }).unref?.();
    return child;
  }

  private onAnswers(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= ANSWER_HEAD) {
      const len = this.pending.readUInt32LE(4);
      if (this.pending.length < ANSWER_HEAD + len) return;
      const id = this.pending.readUInt32LE(0);
      const report = this.pending.subarray(ANSWER_HEAD, ANSWER_HEAD + len).toString('utf8');
      this.pending = this.pending.subarray(ANSWER_HEAD + len);
      this.settle(id)?.resolve(report);
    }
  }

  /** Takes the waiter of `id` off the list; the launcher's pipe stops holding the service once none is left. */
  private settle(id: number): Waiting | undefined {
    const waiter = this.waiting.get(id);
    this.waiting.delete(id);
    if (this.waiting.size === 0) (this.child?.stdout as unknown as { unref?: () => void } | undefined)?.unref?.();
    return waiter;
  }

  private failAll(why: string): void {
    const waiting = [...this.waiting.values()];
    this.waiting.clear();
    for (const waiter of waiting) waiter.reject(new LauncherGone(why));
  }
}
