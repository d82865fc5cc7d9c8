// Resolving user-given directories safely: symlinks followed, `..` normalised, inside the workspace roots.
import fs from 'node:fs/promises';
import path from 'node:path';
import { SessionError } from './errors.js';

export function isInside(root: string, target: string): boolean {
  const rel = path.relative(root, target);
  return rel === '' || (rel.split(path.sep)[0] !== '..' && !path.isAbsolute(rel));
}

/**
 * The real path of `dir` when it is an existing directory inside one of `roots` (roots are
 * resolved too, so a root given through a symlink still matches). Throws working_directory_invalid.
 */
export async function resolveInsideRoots(field: string, dir: string, roots: string[]): Promise<string> {
  if (!path.isAbsolute(dir)) {
    throw new SessionError('working_directory_invalid', `${field} must be an absolute path`);
  }
  if (dir.includes('\0')) throw new SessionError('working_directory_invalid', `${field} contains a NUL byte`);
  let real: string;
  try {
    real = await fs.realpath(dir);
  } catch {
    // Any failure to resolve (missing, a loop, no permission) is the caller's bad input.
    throw new SessionError('working_directory_invalid', `${field} ${dir} does not exist`);
  }
  const stat = await fs.stat(real).catch(() => null);
  if (!stat?.isDirectory()) throw new SessionError('working_directory_invalid', `${field} ${dir} is not a directory`);
  const realRoots = await Promise.all(roots.map((root) => fs.realpath(root).catch(() => path.resolve(root))));
  if (!realRoots.some((root) => isInside(root, real))) {
    throw new SessionError('working_directory_invalid', `${field} ${dir} is outside the workspace roots`);
  }
  return real;
}
