// Keeping secrets out of a session's reach, as configuration: tokens from a file only its owner
// can read (SESSIOND_TOKENS_FILE, so none is in the service's environment), the user sessions run
// as (SESSIOND_RUN_AS), and the refusal when the service cannot switch users.
import fs from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { ConfigError, loadConfig } from '../../src/config.js';
import { canSwitchUser, parseRunAs, runAsRefusal } from '../../src/process/run-as.js';
import { tempDir, TEST_TOKENS } from '../helper.js';

const TOKENS_TEXT = `# sessiond tokens\n${TEST_TOKENS.write}:write\n\n${TEST_TOKENS.read}:read, ${'c'.repeat(20)}\n`;

async function tokensFile(t: Parameters<typeof tempDir>[0], text = TOKENS_TEXT, mode = 0o600): Promise<string> {
  const file = path.join(await tempDir(t, 'sessiond-tokens-'), 'tokens');
  await fs.writeFile(file, text, { mode });
  await fs.chmod(file, mode);
  return file;
}

t.test('SESSIOND_TOKENS_FILE: tokens one a line or comma-separated, # comments', async (t) => {
  const file = await tokensFile(t);
  const config = loadConfig({ SESSIOND_TOKENS_FILE: file }, '/w');
  t.same(config.tokens, [
    { token: TEST_TOKENS.write, scope: 'write' },
    { token: TEST_TOKENS.read, scope: 'read' },
    { token: 'c'.repeat(20), scope: 'write' },
  ]);
  t.equal(config.tokensFile, file);
  t.equal(loadConfig({}, '/w').tokensFile, null);
});

t.test('SESSIOND_TOKENS_FILE is refused when others may read or change it, with what to do', async (t) => {
  for (const mode of [0o644, 0o640, 0o604, 0o620]) {
    const file = await tokensFile(t, TOKENS_TEXT, mode);
    const octal = mode.toString(8).padStart(4, '0');
    t.throws(() => loadConfig({ SESSIOND_TOKENS_FILE: file }, '/w'), new ConfigError(`SESSIOND_TOKENS_FILE: ${file} has mode ${octal}, so other users can read or change it; chmod 600 it`));
  }
});

t.test('SESSIOND_TOKENS_FILE owned by another user is refused: that user could add a token', async (t) => {
  const file = await tokensFile(t);
  await fs.chown(file, 65534, 65534);
  t.throws(() => loadConfig({ SESSIOND_TOKENS_FILE: file }, '/w'), { message: /belongs to uid 65534/ });
});

t.test('SESSIOND_TOKENS_FILE: other refusals, none echoing a token', async (t) => {
  const dir = await tempDir(t, 'sessiond-tokens-');
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ SESSIOND_TOKENS_FILE: path.join(dir, 'missing') }, /cannot open .*missing: ENOENT/],
    [{ SESSIOND_TOKENS_FILE: dir }, /is not a regular file/],
    [{ SESSIOND_TOKENS_FILE: await tokensFile(t, '# nothing yet\n') }, /holds no token/],
    [{ SESSIOND_TOKENS_FILE: await tokensFile(t, 'short-one:write\n') }, /^SESSIOND_TOKENS_FILE: every token must be at least 16 characters long$/],
    [{ SESSIOND_TOKENS_FILE: await tokensFile(t), SESSIOND_TOKENS: `${TEST_TOKENS.write}:write` }, /SESSIOND_TOKENS or SESSIOND_TOKENS_FILE, not both/],
  ];
  for (const [env, message] of cases) {
    const err = (() => {
      try {
        loadConfig(env, '/w');
      } catch (e) {
        return e as Error;
      }
      return null;
    })();
    t.ok(err instanceof ConfigError, String(message));
    t.match(err?.message, message);
    t.notMatch(err?.message, TEST_TOKENS.write);
  }
});

t.test('SESSIOND_RUN_AS: a user name or uid:gid', async (t) => {
  t.same(loadConfig({ SESSIOND_RUN_AS: 'nobody' }, '/w').runAs, { uid: 65534, gid: 65534 });
  t.same(loadConfig({ SESSIOND_RUN_AS: '1000:100' }, '/w').runAs, { uid: 1000, gid: 100 });
  t.equal(loadConfig({}, '/w').runAs, null);
  t.throws(() => loadConfig({ SESSIOND_RUN_AS: 'no-such-user-h9c' }, '/w'), { message: 'SESSIOND_RUN_AS: no user "no-such-user-h9c" in /etc/passwd (give uid:gid for a user from another source)' });
  t.throws(() => loadConfig({ SESSIOND_RUN_AS: 'a b' }, '/w'), { message: /neither a user name nor uid:gid/ });
  t.throws(() => loadConfig({ SESSIOND_RUN_AS: '99999999999:1' }, '/w'), { message: /the uid must be a number/ });
  t.same(parseRunAs('svc', 'root:x:0:0::/root:/bin/bash\nsvc:x:1001:1002::/home/svc:/bin/sh\n'), { uid: 1001, gid: 1002 });
});

t.test('SESSIOND_CONTAINMENT: auto by default; a named one, or a clear refusal', async (t) => {
  t.equal(loadConfig({}, '/w').containment, 'auto');
  for (const value of ['cgroup-v2', 'cgroup-v1', 'process-group'] as const) t.equal(loadConfig({ SESSIOND_CONTAINMENT: value }, '/w').containment, value);
  t.throws(() => loadConfig({ SESSIOND_CONTAINMENT: 'docker' }, '/w'), { message: /SESSIOND_CONTAINMENT must be one of auto, cgroup-v2, cgroup-v1, process-group/ });
});

t.test('switching users needs CAP_SETUID and CAP_SETGID, and the refusal says how to get them', async (t) => {
  const status = (capEff: string) => `Name:\tnode\nCapInh:\t0000000000000000\nCapEff:\t${capEff}\n`;
  t.notOk(canSwitchUser(status('0000000000000000')), 'no capabilities');
  t.notOk(canSwitchUser(status('0000000000000080')), 'CAP_SETUID alone');
  t.notOk(canSwitchUser(status('0000000000000040')), 'CAP_SETGID alone');
  t.ok(canSwitchUser(status('00000000000000c0')), 'both');
  t.ok(canSwitchUser(status('000001ffffffffff')), 'root');
  t.notOk(canSwitchUser('garbage'), 'unreadable: no');
  t.equal(runAsRefusal(null, status('0000000000000000')), null, 'nothing to refuse without SESSIOND_RUN_AS');
  t.match(runAsRefusal({ uid: 65534, gid: 65534 }, status('0000000000000000')), /cannot switch users: it must run as root or hold CAP_SETUID and CAP_SETGID/);
});
