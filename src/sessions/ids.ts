// Session ids: `<slug of name>-<base36 time>-<random>`, readable and unique even within one millisecond.
import { randomBytes } from 'node:crypto';
import { isSessionId } from '../../schemas/common.js';

export { isSessionId };

const SLUG_MAX = 48;

export function slugify(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, SLUG_MAX)
    .replace(/^-+|-+$/g, '');
  return slug || 'session';
}

/** 10 random base36 characters: about 51 bits, so two starts in one millisecond do not collide. */
function randomPart(): string {
  const bytes = randomBytes(8);
  return (bytes.readBigUInt64BE() % 36n ** 10n).toString(36).padStart(10, '0');
}

export function newSessionId(name: string, now: Date): string {
  return `${slugify(name)}-${now.getTime().toString(36)}-${randomPart()}`;
}
