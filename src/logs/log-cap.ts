// The log cap (SESSIOND_MAX_LOG_BYTES, per stream): past it the oldest bytes go, while every
// offset keeps meaning the same byte. The session appends to its log itself (O_APPEND), so the
// file is never rewritten or rotated: the dropped bytes are punched out (fallocate
// --punch-hole), which frees their disk blocks and keeps the file's size and every offset. The
// new window start is recorded (retained.ts) before the punch, so no reader takes the hole's
// zeros for data. A stream is cut when it holds more than twice the cap, down to about the cap,
// at a line start: disk per stream stays at most about twice the cap, and a punch is rare.
import { spawn } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { open } from 'node:fs/promises';
import type { LogStreamName, SessionStore } from '../store/store.js';
import { retainedWindows, type RetainedWindows } from './retained.js';

/** How far past the cut a line end is looked for; without one the cut is at a character start. */
const LINE_SEARCH = 64 * 1024;
const OPEN_FLAGS = fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK;

/** The new window start when a stream of `size` bytes retained from `from` is over twice `cap`, else null. */
export function cutTarget(size: number, from: number, cap: number): number | null {
  if (cap <= 0 || size < from || size - from <= 2 * cap) return null;
  return size - cap;
}

/**
 * Where in `bytes` (the log from the target on) the window starts: after the first line end,
 * so readers resume at a line start; without one, at the first UTF-8 character start.
 */
export function cutPoint(bytes: Buffer): number {
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    if (byte === 0x0a) return i + 1;
    // A lone `\r` ends a line too; `\r\n` is one line end.
    if (byte === 0x0d && i + 1 < bytes.length && bytes[i + 1] !== 0x0a) return i + 1;
  }
  for (let i = 0; i < bytes.length; i++) if (((bytes[i] ?? 0) & 0xc0) !== 0x80) return i;
  return bytes.length;
}

/** Frees the disk blocks of bytes [start, end) of an open file, keeping its size. */
export type PunchHole = (fd: number, start: number, end: number) => Promise<void>;

export class PunchUnsupported extends Error {}

/**
 * util-linux's fallocate on the descriptor we opened and checked (as /dev/fd/3 of the child):
 * never a path the session could have swapped for a link to another file.
 */
export const fallocatePunch: PunchHole = (fd, start, end) =>
  new Promise((resolve, reject) => {
    const child = spawn('fallocate', ['--punch-hole', '--offset', String(start), '--length', String(end - start), '/dev/fd/3'], {
      stdio: ['ignore', 'ignore', 'pipe', fd],
    });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (text: string) => {
      if (stderr.length < 1000) stderr += text;
    });
    child.once('error', (err) => reject(new PunchUnsupported(`cannot run fallocate: ${err.message}`)));
    child.once('close', (code) => {
      if (code === 0) return resolve();
      if (/not supported/i.test(stderr)) return reject(new PunchUnsupported(`fallocate: ${stderr.trim()}`));
      reject(new Error(`fallocate exited with ${code}: ${stderr.trim()}`));
    });
  });

export interface LogCapOptions {
  store: SessionStore;
  /** Bytes kept per stream; 0: no cap. */
  maxBytes: number;
  log: { warn(obj: object, msg: string): void };
  punch?: PunchHole;
}

export class LogCap {
  private readonly windows: RetainedWindows;
  private readonly punch: PunchHole;
  private unsupported = false;

  constructor(private readonly options: LogCapOptions) {
    this.windows = retainedWindows(options.store);
    this.punch = options.punch ?? fallocatePunch;
  }

  /**
   * Drops the oldest bytes of a stream that holds more than twice the cap. The caller runs one
   * call at a time per session (the indexer's queue).
   */
  async enforce(id: string, stream: LogStreamName, size: number): Promise<void> {
    const { maxBytes, store } = this.options;
    if (this.unsupported || maxBytes <= 0) return;
    let from = await this.windows.from(id, stream);
    if (size < from) {
      // Shrunk from outside (truncated): the old window no longer describes the file.
      await this.windows.set(id, stream, 0);
      from = 0;
    }
    const target = cutTarget(size, from, maxBytes);
    if (target === null) return;
    const fh = await open(store.logLocation(id)[stream], OPEN_FLAGS).catch(() => null);
    if (!fh) return;
    try {
      const s = await fh.stat();
      const uid = process.geteuid?.();
      // Only the plain file the service created; the store refuses to read anything else anyway.
      if (!s.isFile() || s.nlink !== 1 || (uid !== undefined && s.uid !== uid)) return;
      const probe = Buffer.alloc(Math.min(LINE_SEARCH, size - target));
      const { bytesRead } = await fh.read(probe, 0, probe.length, target);
      const start = target + cutPoint(probe.subarray(0, bytesRead));
      // Recorded first: from now on no reader serves a byte below `start`.
      await this.windows.set(id, stream, start);
      try {
        await this.punch(fh.fd, from, start);
      } catch (err) {
        if (!(err instanceof PunchUnsupported)) throw err;
        // Nothing was dropped: the window goes back, and the logs grow as they did before caps.
        await this.windows.set(id, stream, from);
        this.unsupported = true;
        this.options.log.warn({ err: err.message }, 'cannot punch holes in the logs on this filesystem: SESSIOND_MAX_LOG_BYTES is not enforced');
      }
    } finally {
      await fh.close();
    }
  }
}
