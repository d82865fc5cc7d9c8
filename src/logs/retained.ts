// Retained windows: where each log's kept bytes start, once the cap (log-cap.ts) has dropped the
// oldest. Offsets stay absolute, so a reader of offset N must know whether byte N is still there:
// the dropped bytes read as zeros (a punched hole), never as data. Kept in `logs.retained` beside
// the logs (written atomically BEFORE a punch) and in memory, one register per store, so every
// reader in the service sees a new start before the first byte of it is punched.
import { constants as fsConstants } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../store/atomic-write.js';
import type { LogStreamName, SessionStore } from '../store/store.js';

export const RETAINED_FILE = 'logs.retained';
/** Sessions whose windows stay in memory; a forgotten one is read again from its file. */
const MAX_CACHED = 4096;
const READ_FLAGS = fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK;

export type Windows = Record<LogStreamName, number>;

const ZERO: Readonly<Windows> = Object.freeze({ stdout: 0, stderr: 0 });

/** The windows a `logs.retained` file says, or zeros for anything that is not one. */
export function parseRetained(text: string): Windows {
  try {
    const value = JSON.parse(text) as Record<string, unknown>;
    const pick = (v: unknown) => (Number.isSafeInteger(v) && (v as number) >= 0 ? (v as number) : 0);
    return { stdout: pick(value?.stdout), stderr: pick(value?.stderr) };
  } catch {
    return { ...ZERO };
  }
}

export class RetainedWindows {
  private readonly cache = new Map<string, Windows>();
  /** Bumped by every change, so a file read that started before one does not overwrite it. */
  private version = 0;

  constructor(private readonly store: SessionStore) {}

  /** The first retained byte of `stream` (0 while nothing was dropped). */
  async from(id: string, stream: LogStreamName): Promise<number> {
    return (this.cache.get(id) ?? (await this.load(id)))[stream];
  }

  /** Both windows. */
  async get(id: string): Promise<Windows> {
    return { ...(this.cache.get(id) ?? (await this.load(id))) };
  }

  /** The window if it is in memory (after `from` or `get`), for a check that must not wait. */
  known(id: string, stream: LogStreamName): number | undefined {
    return this.cache.get(id)?.[stream];
  }

  /**
   * Moves a stream's window start: on disk first, then in memory. Called before the bytes below
   * `start` are punched, so a reader that checks after its read knows whether it read a hole.
   */
  async set(id: string, stream: LogStreamName, start: number): Promise<void> {
    const next = { ...(await this.get(id)), [stream]: start };
    await writeFileAtomic(this.fileOf(id), `${JSON.stringify(next)}\n`);
    this.version += 1;
    this.remember(id, next);
  }

  private async load(id: string): Promise<Windows> {
    const version = this.version;
    let windows: Windows = { ...ZERO };
    try {
      const fh = await open(this.fileOf(id), READ_FLAGS);
      try {
        const s = await fh.stat();
        if (s.isFile() && s.size < 4096) windows = parseRetained(await fh.readFile('utf8'));
      } finally {
        await fh.close();
      }
    } catch {
      // No file (nothing dropped yet), or not one we wrote: nothing is known to be dropped.
    }
    const raced = this.version !== version ? this.cache.get(id) : undefined;
    if (raced) return raced;
    this.remember(id, windows);
    return windows;
  }

  private remember(id: string, windows: Windows): void {
    this.cache.delete(id);
    this.cache.set(id, windows);
    if (this.cache.size > MAX_CACHED) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
  }

  private fileOf(id: string): string {
    return join(dirname(this.store.logLocation(id).stdout), RETAINED_FILE);
  }
}

const registers = new WeakMap<SessionStore, RetainedWindows>();

/** The one register of `store`: the cap and every reader of its logs share it. */
export function retainedWindows(store: SessionStore): RetainedWindows {
  let register = registers.get(store);
  if (!register) {
    register = new RetainedWindows(store);
    registers.set(store, register);
  }
  return register;
}
