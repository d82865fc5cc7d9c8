// A stand-in `claude` for real-process tests: a small node program put on PATH that records its
// arguments and plays a scenario (the prompt, leading dashes dropped, names it): lines written as
// given, a huge line written in chunks, pauses until a file appears, a line printed on SIGINT.
// `@SESSION@` in a line becomes its agent session id: the resumed one for `--resume <id>`, a new
// one for a fresh start or `--fork-session`. With `--input-format stream-json` it takes no prompt
// argument: it reads user messages from stdin, one per line, plays the scenario each names (or
// answers `heard: <text>` in an assistant message), and exits 0 at the end of its input.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Test } from 'tap';
import { tempDir } from '../helper.js';

export type Step =
  /** Writes the text and a newline. */
  | { line: string }
  /** Writes the text as it is (no newline: the rest of a line may come later). */
  | { raw: string }
  /** Writes `before`, then `fill` repeated up to `bytes` bytes, then `after` and a newline, in 64 KiB writes. */
  | { big: { before: string; fill: string; bytes: number; after: string } }
  /** Writes `text` repeated up to `bytes` bytes, and nothing else (the line goes on later). */
  | { fill: { text: string; bytes: number } }
  /** Waits until a file of this name exists in the working directory. */
  | { wait: string }
  /** From now on, SIGINT prints this line (and the program goes on). */
  | { sigint: string }
  | { exit: number };

// CommonJS: an extensionless file outside any package is loaded as such.
const PROGRAM = String.raw`
const { appendFileSync, existsSync, readFileSync, writeSync } = require('node:fs');
const { randomUUID } = require('node:crypto');
const { join } = require('node:path');

const args = process.argv.slice(2);
appendFileSync('claude-args.jsonl', JSON.stringify(args) + '\n');
const interactive = args.includes('--input-format');
const dash = args.indexOf('--');
if (interactive ? dash !== -1 : dash === -1 || dash !== args.length - 2) {
  process.stderr.write(interactive ? 'stand-in claude: no prompt argument with --input-format\n' : 'stand-in claude: expected "-- <prompt>" at the end\n');
  process.exit(2);
}
const resume = args.indexOf('--resume');
const session = resume !== -1 && !args.includes('--fork-session') ? args[resume + 1] : randomUUID();
const scenario = (name) => {
  const file = join(__dirname, 'scenarios', name.replace(/^-+/, '') + '.json');
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : null;
};
const write = (bytes) => {
  for (let done = 0; done < bytes.length; ) done += writeSync(1, bytes, done);
};
const out = (text) => write(Buffer.from(text.replaceAll('@SESSION@', session)));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// Exactly this many bytes (a fill cut at the end may end mid-character), 64 KiB at a time.
const fill = (text, bytes) => {
  const piece = Buffer.from(text.repeat(Math.ceil(65536 / Buffer.byteLength(text))));
  for (let left = bytes; left > 0; left -= piece.length) write(piece.subarray(0, Math.min(piece.length, left)));
};
const play = async (steps) => {
  for (const step of steps) {
    if ('line' in step) out(step.line + '\n');
    else if ('raw' in step) out(step.raw);
    else if ('big' in step) {
      out(step.big.before);
      fill(step.big.fill, step.big.bytes);
      out(step.big.after + '\n');
    } else if ('fill' in step) fill(step.fill.text, step.fill.bytes);
    else if ('wait' in step) {
      while (!existsSync(step.wait)) await sleep(20);
    } else if ('sigint' in step) process.on('SIGINT', () => out(step.sigint + '\n'));
    else if ('exit' in step) process.exit(step.exit);
  }
};
(async () => {
  if (!interactive) return play(scenario(args[dash + 1]));
  process.stdin.setEncoding('utf8');
  let pending = '';
  for await (const chunk of process.stdin) {
    pending += chunk;
    for (let nl = pending.indexOf('\n'); nl !== -1; nl = pending.indexOf('\n')) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      const content = JSON.parse(line).message.content;
      const text = typeof content === 'string' ? content : content.map((block) => block.text).join('');
      const steps = scenario(text);
      if (steps) await play(steps);
      else out(JSON.stringify({ type: 'assistant', session_id: '@SESSION@', message: { role: 'assistant', content: [{ type: 'text', text: 'heard: ' + text }] } }) + '\n');
    }
  }
})();
`;

export interface StandIn {
  /** The folder to put first on PATH. */
  bin: string;
  /** Writes scenario `name` (the prompt that plays it, leading dashes aside). */
  scenario(name: string, steps: Step[]): Promise<void>;
}

export async function installStandIn(t: Test): Promise<StandIn> {
  const bin = await tempDir(t, 'sessiond-claude-');
  await fs.mkdir(path.join(bin, 'scenarios'));
  // Absolute: the session's PATH need not hold the node that runs the tests.
  await fs.writeFile(path.join(bin, 'claude'), `#!${process.execPath}\n${PROGRAM}`, { mode: 0o755 });
  return {
    bin,
    scenario: (name, steps) => fs.writeFile(path.join(bin, 'scenarios', `${name}.json`), JSON.stringify(steps)),
  };
}

/** The arguments each run of the stand-in got in `dir`, in order. */
export async function standInArgs(dir: string): Promise<string[][]> {
  const text = await fs.readFile(path.join(dir, 'claude-args.jsonl'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as string[]);
}
