// The compiled `sessiond` command as a real process: run it to its end (exit code, stdout,
// stderr), or spawn it and watch its output while it follows something. Its environment is only
// what a test gives it (never this process's SESSIOND_* settings).
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';

export const CLI_ENTRY = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export class CliProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<CliResult>;
  private readonly waiters = new Set<() => void>();

  constructor(readonly child: ChildProcess) {
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
      this.notify();
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
      this.notify();
    });
    this.exited = new Promise((resolve) => {
      child.on('close', (code, signal) => {
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr });
        this.notify();
      });
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves once `predicate` holds for what the command printed; rejects after `timeoutMs` or if it exits first. */
  until(predicate: (p: CliProcess) => boolean, what: string, timeoutMs = 30_000): Promise<void> {
    if (predicate(this)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`sessiond ${what}: not within ${timeoutMs} ms\nstdout: ${this.stdout.slice(-1500)}\nstderr: ${this.stderr.slice(-1500)}`));
      }, timeoutMs);
      const check = () => {
        if (predicate(this)) {
          clearTimeout(timer);
          this.waiters.delete(check);
          resolve();
        } else if (!this.running) {
          clearTimeout(timer);
          this.waiters.delete(check);
          reject(new Error(`sessiond exited before ${what}\nstdout: ${this.stdout.slice(-1500)}\nstderr: ${this.stderr.slice(-1500)}`));
        }
      };
      this.waiters.add(check);
    });
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

export function spawnCli(t: Test, args: string[], env: Record<string, string>): CliProcess {
  const child = spawn(process.execPath, [CLI_ENTRY, ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const cli = new CliProcess(child);
  t.teardown(() => {
    if (cli.running) child.kill('SIGKILL');
  });
  return cli;
}

/** Runs the command to its end; fails the wait after `timeoutMs`. */
export async function runCli(t: Test, args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<CliResult> {
  const cli = spawnCli(t, args, env);
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      cli.exited,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          cli.child.kill('SIGKILL');
          reject(new Error(`sessiond ${args.join(' ')}: still running after ${timeoutMs} ms\n${cli.stdout}\n${cli.stderr}`));
        }, timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A port nothing listens on right now (for a server that must come back on the same one). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
