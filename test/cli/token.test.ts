// Which token the `sessiond` command sends: SESSIOND_TOKEN, or the token file a local service
// generated in its data directory, never that file to another address; a 401 says what to set.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { resolveConnection } from '../../src/cli/settings.js';
import { tempDir } from '../helper.js';
import { deploy } from '../reliability/server-process.js';
import { runCli } from './cli-process.js';

t.test('the token: SESSIOND_TOKEN, or the token file of a local service’s data directory', async (t) => {
  // No SESSIOND_TOKENS: the service generates a token into its data directory.
  const d = await deploy(t, { env: { SESSIOND_TOKENS: '' } });
  await d.start();
  const local = await runCli(t, ['ls', '-q'], { SESSIOND_URL: d.server.url, SESSIOND_DATA_DIR: d.dataDir });
  t.equal(local.code, 0, `the data directory’s token file is used ${local.stderr}`);
  const none = await runCli(t, ['ls'], { SESSIOND_URL: d.server.url, SESSIOND_DATA_DIR: path.join(d.root, 'elsewhere') });
  t.equal(none.code, 1, 'no token: exit 1');
  t.match(none.stderr, /unauthorized, HTTP 401/);
  t.match(none.stderr, /set SESSIOND_TOKEN/, 'and it says what to set');
  const wrong = await runCli(t, ['ls'], { SESSIOND_URL: d.server.url, SESSIOND_TOKEN: 'not-the-token-0123456789' });
  t.equal(wrong.code, 1);
  t.match(wrong.stderr, /SESSIOND_TOKEN is not a token this service accepts/, 'a wrong SESSIOND_TOKEN is named as such');
});

t.test('a token file is read only for a service on this machine', async (t) => {
  const dir = await tempDir(t);
  await writeFile(path.join(dir, 'token'), `${'x'.repeat(43)}\n`);
  const local = await resolveConnection({ url: 'http://127.0.0.1:7070', token: null, dataDir: dir, color: 'never' });
  t.equal(local.token, 'x'.repeat(43), 'loopback: the file’s token');
  t.equal(local.tokenFrom, 'token file');
  const remote = await resolveConnection({ url: 'http://192.0.2.1:7070', token: null, dataDir: dir, color: 'never' });
  t.equal(remote.token, null, 'another address: never sent');
  const given = await resolveConnection({ url: 'http://192.0.2.1:7070', token: 'given-token', dataDir: dir, color: 'never' });
  t.equal(given.token, 'given-token', 'SESSIOND_TOKEN wins everywhere');
});
