// A command name resolves to the first executable regular file of that name on PATH, as a shell
// would find it: misses, directories and files we may not execute are passed over.
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { findOnPath } from '../../src/sessions/commands.js';

t.test('findOnPath takes the first executable file and skips everything else', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'sessiond-path-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const [empty, plain, folder, linked, real] = ['empty', 'plain', 'folder', 'linked', 'real'].map((d) => join(root, d)) as [string, string, string, string, string];
  for (const dir of [empty, plain, folder, linked, real]) await mkdir(dir);
  await writeFile(join(plain, 'tool'), '#!/bin/sh\n', { mode: 0o644 });
  await mkdir(join(folder, 'tool'));
  await writeFile(join(real, 'tool'), '#!/bin/sh\n');
  await chmod(join(real, 'tool'), 0o755);
  await symlink(join(real, 'tool'), join(linked, 'other'));

  t.equal(await findOnPath('tool', [empty, plain, folder, real].join(':')), join(real, 'tool'), 'not-executable and directory entries are passed over');
  t.equal(await findOnPath('tool', ['relative/dir', real].join(':')), join(real, 'tool'), 'relative entries are skipped');
  t.equal(await findOnPath('other', [empty, linked].join(':')), join(linked, 'other'), 'a link to an executable is found by its own path');
  t.equal(await findOnPath('tool', [empty, plain].join(':')), null, 'nothing executable: null');
  t.equal(await findOnPath('tool', undefined), null, 'no PATH: null');
});
