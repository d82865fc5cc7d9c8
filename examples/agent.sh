#!/usr/bin/env bash
# A stand-in for an agent CLI (claude --print --verbose "<prompt>"), so the README's walk-through
# runs without one: it "works" for a while, logs to stdout and stderr, writes report.md, and
# stops cleanly on SIGTERM. Usage: agent.sh [--print] [--verbose] "<prompt>" [steps]
set -euo pipefail
while [[ "${1:-}" == --* ]]; do shift; done
prompt="${1:-do something useful}"
steps="${2:-10}"
trap 'echo "agent: SIGTERM received, stopping early" >&2; exit 143' TERM
echo "agent: starting on: ${prompt}"
for ((i = 1; i <= steps; i++)); do
  echo "agent: step ${i}/${steps}"
  [[ $((i % 3)) -eq 0 ]] && echo "agent: note ${i}: nothing to worry about" >&2
  sleep 1
done
printf '# Report\n\nPrompt: %s\n\nDone in %s steps.\n' "${prompt}" "${steps}" > report.md
echo "agent: wrote report.md"
