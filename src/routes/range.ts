// Parsing an HTTP `Range: bytes=...` header (RFC 9110) into the one range sessiond serves.
export type ByteRange = { start: number; end?: number } | { suffix: number };

/**
 * The range asked for, or null to send the whole log: no header, another unit, or several
 * ranges (which RFC 9110 lets a server ignore). Throws on a malformed bytes range.
 */
export function parseRange(header: string | undefined): ByteRange | null | 'invalid' {
  if (!header) return null;
  const match = /^\s*bytes\s*=\s*(.+)$/i.exec(header);
  if (!match?.[1]) return null;
  const spec = match[1].trim();
  if (spec.includes(',')) return null;
  const parts = /^(\d*)-(\d*)$/.exec(spec);
  if (!parts) return 'invalid';
  const [, first = '', last = ''] = parts;
  if (first === '' && last === '') return 'invalid';
  if (first === '') return { suffix: Number(last) };
  const start = Number(first);
  if (last === '') return { start };
  const end = Number(last);
  if (end < start) return 'invalid';
  return { start, end };
}
