// A JSON-lines file that is appended to and now and then replaced whole (compaction), with the
// torn last line a crash can leave detected on read. The outbox and the deliveries log use it.
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { errnoCode, writeFileAtomic } from '../../store/atomic-write.js';

export interface JsonLines {
  /** Every line that parsed, in order. */
  values: unknown[];
  /**
   * False when a line did not parse or the file does not end with a newline (a crash cut the last
   * append): the caller replaces the file before appending, or the next line would be glued on.
   */
  clean: boolean;
}

/** Reads the file; an absent file is empty and clean. */
export async function readJsonLines(path: string): Promise<JsonLines> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return { values: [], clean: true };
    throw err;
  }
  const values: unknown[] = [];
  let clean = text === '' || text.endsWith('\n');
  for (const line of text.split('\n')) {
    if (line === '') continue;
    try {
      values.push(JSON.parse(line));
    } catch {
      // A torn or damaged line: the rest of the file is still good; the caller rewrites it.
      clean = false;
    }
  }
  return { values, clean };
}

export interface JsonLinesFileOptions {
  /** fsync after every append: a resolved append survives a crash of the machine, not only of the process. */
  durable: boolean;
}

/** Appends and replacements of one file, one at a time, in call order. Files are mode 0600. */
export class JsonLinesFile {
  private handle: FileHandle | null = null;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly options: JsonLinesFileOptions,
  ) {}

  append(values: readonly unknown[]): Promise<void> {
    return this.serial(async () => {
      this.handle ??= await open(this.path, 'a', 0o600);
      await this.handle.appendFile(encode(values));
      if (this.options.durable) await this.handle.datasync();
    });
  }

  /** Replaces the whole file atomically (a crash leaves the old or the new one). */
  replace(values: readonly unknown[]): Promise<void> {
    return this.serial(async () => {
      await this.closeHandle();
      await writeFileAtomic(this.path, encode(values), { mode: 0o600 });
    });
  }

  /** Waits for what was asked before, then releases the file. */
  close(): Promise<void> {
    return this.serial(() => this.closeHandle());
  }

  private async closeHandle(): Promise<void> {
    const handle = this.handle;
    this.handle = null;
    await handle?.close();
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.chain.then(task, task);
    // The chain goes on after a failure; the caller of the failed task sees the error.
    this.chain = run.catch(() => undefined);
    return run;
  }
}

function encode(values: readonly unknown[]): string {
  return values.map((value) => `${JSON.stringify(value)}\n`).join('');
}
