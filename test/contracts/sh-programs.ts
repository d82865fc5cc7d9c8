// The contract's programs as sh scripts (POSIX sh, busybox's included), for the runtimes that run
// real programs: the local one on the host, the Docker one in a container.
import type { Program } from './process-adapter.contract.js';

export function shProgram(program: Program): { command: string; args: string[] } {
  switch (program.kind) {
    case 'exit':
      return { command: 'sh', args: ['-c', 'printf %s "$1"; printf %s "$2" >&2; exit "$3"', 'sh', program.stdout, program.stderr, String(program.code)] };
    case 'sleep':
      return { command: 'sh', args: ['-c', 'exec sleep 600'] };
    case 'trap-term':
      return { command: 'sh', args: ['-c', `trap 'exit ${program.code}' TERM; echo ready; while :; do sleep 0.05; done`] };
    case 'ignore-term':
      return { command: 'sh', args: ['-c', "trap '' TERM; echo ready; while :; do sleep 0.05; done"] };
    case 'echo-input':
      return { command: 'sh', args: ['-c', 'read -r line; echo "got $line"'] };
    case 'missing':
      return { command: 'no-such-program-sessiond', args: [] };
  }
}
