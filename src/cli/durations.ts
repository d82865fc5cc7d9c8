// Durations on the command line: 90s, 10m, 2h, 1d, 500ms, or a bare number of seconds (as
// sleep(1) and timeout(1) read one).
import { UsageError } from './errors.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(text: string, option: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) throw new UsageError(`${option} takes a duration such as 90s, 10m, 2h or 500ms, got "${text}"`);
  const ms = Math.round(Number(match[1]) * (UNITS[match[2] ?? 's'] as number));
  if (!Number.isSafeInteger(ms)) throw new UsageError(`${option}: "${text}" is too long`);
  return ms;
}
