// The session process of the latency bench: waits for a `go` file in its working directory,
// then writes `count` lines to stdout, one every `intervalMs`, each carrying the moment it was
// written on the system-wide monotonic clock (process.hrtime, CLOCK_MONOTONIC on Linux), so
// another process can tell how long the line took to reach it.
// Usage: node line-writer.js <count> <intervalMs>
import { existsSync, writeSync } from 'node:fs';

const count = Number(process.argv[2] ?? 200);
const intervalMs = Number(process.argv[3] ?? 20);
/** Lines of a realistic length (about 100 bytes). */
const PAD = 'x'.repeat(64);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  // Nobody may miss the first line: the bench creates `go` once every reader is attached.
  const deadline = Date.now() + 30_000;
  while (!existsSync('go')) {
    if (Date.now() > deadline) throw new Error('line-writer: no go file within 30 s');
    await sleep(5);
  }
  const start = performance.now();
  for (let seq = 1; seq <= count; seq++) {
    // One write(2) per line, straight to the log file (fd 1): no buffering in between.
    writeSync(1, `L ${seq} ${process.hrtime.bigint()} ${PAD}\n`);
    // Paced on the schedule, not on the previous sleep, so the rate holds.
    const next = start + seq * intervalMs;
    await sleep(Math.max(0, next - performance.now()));
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
