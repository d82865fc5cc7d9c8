// The real entry point refuses to listen on a network address without configured tokens.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { tempDir } from '../helper.js';

const run = promisify(execFile);
const server = path.join(process.cwd(), 'dist', 'src', 'server.js');

t.test('0.0.0.0 without SESSIOND_TOKENS: refused, with the reason', async (t) => {
  const data = await tempDir(t);
  const err = await run(process.execPath, [server], {
    env: { PATH: process.env.PATH, SESSIOND_HOST: '0.0.0.0', SESSIOND_PORT: '0', SESSIOND_DATA_DIR: data, SESSIOND_WORKSPACE_ROOTS: data },
    timeout: 20000,
  }).then(
    () => null,
    (e: { code?: number; stderr?: string }) => e,
  );
  t.ok(err, 'the process exits with an error');
  t.equal(err?.code, 2, 'exit code 2: configuration error');
  t.match(err?.stderr, /refusing to listen on 0\.0\.0\.0 without SESSIOND_TOKENS/);
});

t.test('a bad setting is refused at start with a clear message', async (t) => {
  const data = await tempDir(t);
  const err = await run(process.execPath, [server], {
    env: { PATH: process.env.PATH, SESSIOND_PORT: 'seventy', SESSIOND_DATA_DIR: data },
    timeout: 20000,
  }).then(
    () => null,
    (e: { code?: number; stderr?: string }) => e,
  );
  t.equal(err?.code, 2);
  t.match(err?.stderr, /SESSIOND_PORT must be a whole number/);
});
