// `--label key=value` on the command line, checked the way the service checks labels.
import { UsageError } from './errors.js';

export function parseLabel(text: string): [string, string] {
  const at = text.indexOf('=');
  if (at <= 0) throw new UsageError(`--label takes key=value, got "${text}"`);
  return [text.slice(0, at), text.slice(at + 1)];
}

export function parseLabels(values: string[] | undefined): Record<string, string> {
  return Object.fromEntries((values ?? []).map(parseLabel));
}
