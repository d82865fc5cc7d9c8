// The session process of the index bench: writes the agent transcript to stdout, one write(2)
// per line, one every `intervalMs` (as an agent streams), with a note on stderr every turn.
// Usage: node agent-writer.js <turns> <intervalMs>
import { writeSync } from 'node:fs';
import { agentTranscript } from './agent-transcript.js';

const turns = Number(process.argv[2] ?? 100);
const intervalMs = Number(process.argv[3] ?? 2);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let n = 0;
for (const chunk of agentTranscript(turns)) {
  writeSync(1, chunk);
  if (++n % 15 === 0) writeSync(2, `turn ${n / 15} done\n`);
  await sleep(intervalMs);
}
