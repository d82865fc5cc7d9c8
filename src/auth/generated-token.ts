// The token made on first start when none is configured: random, kept in <data dir>/token
// (mode 0600) and reused by later starts, so a fresh install is never open to anyone.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../store/atomic-write.js';

export const TOKEN_FILE = 'token';

export async function loadOrCreateToken(dataDir: string): Promise<{ token: string; created: boolean; file: string }> {
  const file = path.join(dataDir, TOKEN_FILE);
  const existing = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  const token = existing?.trim();
  if (token && token.length >= 32) return { token, created: false, file };
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const fresh = randomBytes(32).toString('base64url');
  await writeFileAtomic(file, `${fresh}\n`, { mode: 0o600 });
  return { token: fresh, created: true, file };
}
