// `sessiond serve` runs the service in the foreground, configured by the environment as npm start
// is, and stops on SIGTERM (its sessions would keep running).
import t from 'tap';
import { TEST_TOKENS, tempDir } from '../helper.js';
import { runCli, spawnCli } from './cli-process.js';

t.test('serve: the service answers; SIGTERM stops it cleanly', async (t) => {
  const dataDir = await tempDir(t, 'sessiond-serve-');
  const server = spawnCli(t, ['serve'], {
    SESSIOND_PORT: '0',
    SESSIOND_DATA_DIR: dataDir,
    SESSIOND_WORKSPACE_ROOTS: dataDir,
    SESSIOND_TOKENS: `${TEST_TOKENS.read}:read`,
  });
  await server.until((p) => /Server listening at http:\/\/127\.0\.0\.1:\d+/.test(p.stdout), 'listening');
  const url = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(server.stdout)?.[1] as string;
  const listed = await runCli(t, ['ls'], { SESSIOND_URL: url, SESSIOND_TOKEN: TEST_TOKENS.read });
  t.equal(listed.code, 0, 'ls against it works');
  t.match(listed.stdout, /^ID\s+NAME/);
  server.child.kill('SIGTERM');
  const exit = await server.exited;
  t.equal(exit.code, 0, 'SIGTERM: exit 0');
  t.match(exit.stdout, /closing; sessions keep running/);
});
