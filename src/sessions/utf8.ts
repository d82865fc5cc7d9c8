// Cutting byte ranges of UTF-8 text so no character is split (which would show as U+FFFD).

/** Drops continuation bytes at the start and an incomplete sequence at the end. */
export function trimToUtf8Boundaries(buf: Buffer): Buffer {
  let start = 0;
  // At most 3 continuation bytes (10xxxxxx) can precede the next character's lead byte.
  while (start < buf.length && start < 3 && ((buf[start] ?? 0) & 0xc0) === 0x80) start++;
  return buf.subarray(start, completeLength(buf, start));
}

/** Length of buf up to the end of its last complete UTF-8 sequence (from `from`). */
export function completeLength(buf: Buffer, from = 0): number {
  const end = buf.length;
  // Look back at most 3 bytes for the lead byte of the last sequence.
  for (let i = end - 1; i >= Math.max(from, end - 4); i--) {
    const byte = buf[i] ?? 0;
    if ((byte & 0xc0) === 0x80) continue;
    const need = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return end - i >= need ? end : i;
  }
  return end;
}
