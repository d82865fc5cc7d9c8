// Parsing an HTTP `Range: bytes=...` header (RFC 9110) into the one range sessiond serves.
export type ByteRange = { start: number; end?: number } | { suffix: number };

/**
 * The range asked for, or null to send the whole log: no header, another unit, several ranges,
 * or a malformed one (RFC 9110 lets a server ignore all of these and answer 200).
 */
export function parseRange(header: string | undefined): ByteRange | null {
  if (!header) return null;
  const match = /^\s*bytes\s*=\s*(.+)$/i.exec(header);
  if (!match?.[1]) return null;
  const spec = match[1].trim();
  if (spec.includes(',')) return null;
  const parts = /^(\d*)-(\d*)$/.exec(spec);
  if (!parts) return null;
  const [, first = '', last = ''] = parts;
  if (first === '' && last === '') return null;
  if (first === '') return { suffix: Number(last) };
  const start = Number(first);
  if (last === '') return { start };
  const end = Number(last);
  if (end < start) return null;
  return { start, end };
}
