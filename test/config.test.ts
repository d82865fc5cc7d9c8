// Configuration: the contract's defaults, and clear refusals of bad values.
import path from 'node:path';
import t from 'tap';
import { ConfigError, childEnvAllows, loadConfig } from '../src/config.js';

t.test('defaults are the contract’s', async (t) => {
  const config = loadConfig({}, '/srv/work');
  t.match(config, {
    host: '127.0.0.1',
    port: 7070,
    dataDir: path.resolve('/srv/work', 'data'),
    tokens: [],
    allowedCommands: ['claude'],
    workspaceRoots: ['/srv/work'],
    defaultCommand: 'claude',
    stopGraceMs: 5000,
    maxRunning: 64,
    corsOrigins: [],
    logLevel: 'info',
    sseKeepAliveMs: 15000,
    rateLimitPerMinute: 300,
  });
  t.same(config.childEnvNames, ['PATH', 'HOME', 'USER', 'LANG', 'LC_*', 'TERM', 'TMPDIR', 'SHELL', 'ANTHROPIC_*', 'CLAUDE_*']);
});

t.test('lists, tokens and the child environment', async (t) => {
  const config = loadConfig(
    {
      SESSIOND_TOKENS: ' aaaaaaaaaaaaaaaa:read , bbbbbbbbbbbbbbbb:write,cccccccccccccccc ',
      SESSIOND_WORKSPACE_ROOTS: '/a, b',
      SESSIOND_CHILD_ENV: 'PATH,LC_*',
      PATH: '/bin',
      LC_ALL: 'C',
      LCX: 'no',
      SESSIOND_X: 'never',
    },
    '/w',
  );
  t.same(config.tokens, [
    { token: 'aaaaaaaaaaaaaaaa', scope: 'read' },
    { token: 'bbbbbbbbbbbbbbbb', scope: 'write' },
    { token: 'cccccccccccccccc', scope: 'write' },
  ]);
  t.same(config.workspaceRoots, ['/a', '/w/b']);
  t.same(config.childEnv, { PATH: '/bin', LC_ALL: 'C' });
  t.notOk(childEnvAllows(['*'], 'SESSIOND_TOKENS'), 'SESSIOND_* never passes');
});

t.test('bad values are refused with the variable’s name', async (t) => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ SESSIOND_PORT: '70000' }, /SESSIOND_PORT must be between/],
    [{ SESSIOND_STOP_GRACE_MS: '-1' }, /SESSIOND_STOP_GRACE_MS must be a whole number/],
    [{ SESSIOND_TOKENS: 'short:write' }, /at least 16 characters/],
    [{ SESSIOND_TOKENS: 'aaaaaaaaaaaaaaaa:admin' }, /scope must be read or write/],
    [{ SESSIOND_LOG_LEVEL: 'loud' }, /SESSIOND_LOG_LEVEL must be one of/],
    [{ SESSIOND_ALLOWED_COMMANDS: 'bin/claude' }, /bare name or an absolute path/],
  ];
  for (const [env, message] of cases) t.throws(() => loadConfig(env, '/w'), message);
  t.throws(() => loadConfig({ SESSIOND_PORT: 'x' }, '/w'), ConfigError);
  const err = (() => {
    try {
      loadConfig({ SESSIOND_TOKENS: 'secret-token-value-123:admin' }, '/w');
    } catch (e) {
      return e as Error;
    }
  })();
  t.notMatch(err?.message, /secret-token-value/, 'a token is never echoed in the message');
});
