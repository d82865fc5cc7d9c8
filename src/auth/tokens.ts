// Bearer tokens: constant-time look-up of a presented token, and the scope rule (write covers read).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { TokenScope } from '../config.js';

export interface ConfiguredToken {
  token: string;
  scope: TokenScope;
}

export interface TokenMatch {
  scope: TokenScope;
  /** A stable, non-secret name for the token (for rate limits and logs): a digest prefix. */
  key: string;
}

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

export class TokenTable {
  private readonly entries: Array<{ digest: Buffer; match: TokenMatch }>;

  constructor(tokens: ConfiguredToken[]) {
    this.entries = tokens.map(({ token, scope }) => {
      const d = digest(token);
      return { digest: d, match: { scope, key: `token:${d.subarray(0, 6).toString('hex')}` } };
    });
  }

  /**
   * The token's scope, or null. Digests have one length, so timingSafeEqual applies, and every
   * entry is compared whatever matched, so the time taken says nothing about which or whether.
   */
  find(presented: string): TokenMatch | null {
    const d = digest(presented);
    let found: TokenMatch | null = null;
    for (const entry of this.entries) {
      if (timingSafeEqual(entry.digest, d)) found = entry.match;
    }
    return found;
  }
}

export function scopeAllows(granted: TokenScope, needed: TokenScope): boolean {
  return granted === 'write' || needed === 'read';
}

/** GET and HEAD read; everything else writes. */
export function scopeFor(method: string): TokenScope {
  return method === 'GET' || method === 'HEAD' ? 'read' : 'write';
}
