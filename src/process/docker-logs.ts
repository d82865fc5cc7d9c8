// A container's output into the session's log files, the same stdout.log and stderr.log a local
// session writes, so reading, following, the time index, caps and resume work unchanged.
//
// The choice, and its price. The bytes come from the Engine's multiplexed stream, frame by frame
// in arrival order, appended as they are:
// - At launch the stream is the container's attach stream, opened before the container starts:
//   exactly the bytes the process wrote to its stdout and stderr pipes (nothing is lost before
//   the attach, nothing is re-encoded). Byte-exact.
// - After the service restarted (its attach connection died with it), the container's output
//   since then sits only in the Engine's own log (json-file driver). The pump then follows the
//   Engine's log from its start and skips, per stream, the bytes the files already hold. One
//   follow stream, so nothing falls between a read of the past and a live attach. The price:
//   json-file stores lines as JSON strings, so bytes that are not valid UTF-8 come back as U+FFFD
//   (valid UTF-8, \r, long lines and a last line without newline come back exact; the `local`
//   driver was tried and drops the newline after lines longer than 16 KiB, which is worse for
//   JSON-lines output). Invalid UTF-8 written before the restart also shifts the skip. The Engine
//   keeps a second copy of the output (no rotation: rotation would make the skip splice wrong
//   bytes); it goes when the container is removed.
import { open, stat, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { createFrameSplitter, type FrameStream } from './docker-frames.js';

export interface LogFiles {
  stdoutPath: string;
  stderrPath: string;
}

export interface LogPump {
  /** Settles when the source ended (the container's streams closed) and every byte is written. Never rejects. */
  readonly done: Promise<void>;
  /** The write error that ended the pump early, if any (disk full, say). */
  error(): Error | null;
  /** Stops reading (service shutdown); what is written stays. */
  stop(): void;
}

/** How many bytes each file holds (0 when missing): what a resumed pump skips. */
export async function writtenBytes(files: LogFiles): Promise<Record<FrameStream, number>> {
  const size = async (path: string): Promise<number> => {
    try {
      return (await stat(path)).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw err;
    }
  };
  return { stdout: await size(files.stdoutPath), stderr: await size(files.stderrPath) };
}

/** Opens (creating) both log files for appending; before the container starts, so they exist. */
export async function openLogFiles(files: LogFiles): Promise<Record<FrameStream, FileHandle>> {
  const stdout = await open(files.stdoutPath, 'a');
  try {
    return { stdout, stderr: await open(files.stderrPath, 'a') };
  } catch (err) {
    await stdout.close();
    throw err;
  }
}

/**
 * Appends the frames of `source` to the files, in arrival order, after dropping the first
 * `skip[stream]` bytes of each stream (already written by an earlier pump). Takes ownership of
 * the handles and closes them at the end.
 */
export function pumpFrames(source: Readable, handles: Record<FrameStream, FileHandle>, skip: Record<FrameStream, number> = { stdout: 0, stderr: 0 }): LogPump {
  const left = { ...skip };
  const splitter = createFrameSplitter();
  let failure: Error | null = null;
  let stopped = false;
  const run = async (): Promise<void> => {
    try {
      // for await reads one chunk at a time: the socket is paused while a write is pending.
      for await (const chunk of source) {
        for (const frame of splitter.push(chunk as Buffer)) {
          let bytes = frame.bytes;
          const skipHere = Math.min(left[frame.stream], bytes.length);
          if (skipHere > 0) {
            left[frame.stream] -= skipHere;
            bytes = bytes.subarray(skipHere);
          }
          if (bytes.length > 0) await handles[frame.stream].appendFile(bytes);
        }
      }
    } catch (err) {
      // A source destroyed by stop() ends here too; that is not a failure of the logs.
      if (!stopped) failure = err as Error;
    } finally {
      source.destroy();
      await Promise.allSettled([handles.stdout.close(), handles.stderr.close()]);
    }
  };
  const done = run();
  return {
    done,
    error: () => failure,
    stop: () => {
      stopped = true;
      source.destroy();
    },
  };
}
