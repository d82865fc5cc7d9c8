// End to end: what a session's process actually receives. The claude arguments (through a fake
// `claude` on PATH), a prompt no shell touches, its working directory, its filtered environment
// and /dev/null as stdin.
import fs from 'node:fs/promises';
import path from 'node:path';
import t, { type Test } from 'tap';
import { TEST_TOKENS, tempDir } from '../helper.js';
import { readWhenWritten, startServer, type Server } from './helper.js';

/** A server whose PATH starts with a folder holding a fake `claude` that records its arguments. */
async function withFakeClaude(t: Test): Promise<Server> {
  const bin = await tempDir(t, 'sessiond-bin-');
  const script = [
    '#!/usr/bin/env bash',
    `printf '%s\\n' "$@" > args.txt`,
    // NUL-separated too: an argument may hold a newline.
    `printf '%s\\0' "$@" > args.nul`,
    'echo "fake claude ran"',
    '',
  ].join('\n');
  await fs.writeFile(path.join(bin, 'claude'), script);
  await fs.chmod(path.join(bin, 'claude'), 0o755);
  return startServer(t, { env: { SESSIOND_ALLOWED_COMMANDS: 'bash,claude', PATH: `${bin}:${process.env.PATH ?? ''}` } });
}

async function argsOf(dir: string): Promise<{ lines: string[]; argv: string[] }> {
  const text = await fs.readFile(path.join(dir, 'args.txt'), 'utf8');
  const nul = await fs.readFile(path.join(dir, 'args.nul'), 'utf8');
  return { lines: text.split('\n').slice(0, -1), argv: nul.split('\0').slice(0, -1) };
}

t.test('claude gets --print --verbose --permission-mode <m> --allowedTools <tools> -- <prompt>', async (t) => {
  const s = await withFakeClaude(t);
  const res = await s.request('POST', '/v1/sessions', {
    body: {
      name: 'Fix the build',
      working_directory: s.root,
      command: 'claude',
      prompt: 'Fix the flaky test',
      permission_mode: 'acceptEdits',
      allowed_tools: ['Read', 'Bash(git:*)'],
    },
  });
  t.equal(res.status, 201);
  const expected = ['--print', '--verbose', '--permission-mode', 'acceptEdits', '--allowedTools', 'Read', 'Bash(git:*)', '--', 'Fix the flaky test'];
  t.same(res.json().args, expected, 'the session shows the arguments');
  t.match(await s.waitEnded(res.json().id), { status: 'exited', exit_code: 0 });
  const { lines, argv } = await argsOf(s.root);
  t.same(lines, expected, 'args.txt line by line');
  t.same(argv, expected);
  t.equal((await s.request('GET', `/v1/sessions/${res.json().id}/logs/stdout`)).text, 'fake claude ran\n', 'it was the fake on PATH');
});

t.test('claude is the default command, with only a prompt', async (t) => {
  const s = await withFakeClaude(t);
  const res = await s.request('POST', '/v1/sessions', { body: { name: 'defaults', working_directory: s.root, prompt: 'hello' } });
  t.equal(res.status, 201);
  t.equal(res.json().command, 'claude');
  await s.waitEnded(res.json().id);
  t.same((await argsOf(s.root)).argv, ['--print', '--verbose', '--', 'hello']);
});

t.test('a prompt with quotes, $(...), spaces and a newline reaches the process unchanged', async (t) => {
  const s = await withFakeClaude(t);
  const prompt = `Say "hi" and 'bye'; $(touch pwned) \`touch pwned2\` $HOME && echo | cat > x\n  second line\twith a tab \\ and a backslash`;
  const res = await s.request('POST', '/v1/sessions', {
    body: { name: 'tricky', working_directory: s.root, command: 'claude', prompt },
  });
  t.equal(res.status, 201);
  await s.waitEnded(res.json().id);
  const { argv, lines } = await argsOf(s.root);
  t.same(argv, ['--print', '--verbose', '--', prompt], 'one argument, byte for byte');
  t.same(lines, ['--print', '--verbose', '--', ...prompt.split('\n')], 'args.txt holds it too');
  await t.rejects(fs.stat(path.join(s.root, 'pwned')), { code: 'ENOENT' }, 'no shell ran $(...)');
  await t.rejects(fs.stat(path.join(s.root, 'pwned2')), { code: 'ENOENT' }, 'no shell ran backticks');
  await t.rejects(fs.stat(path.join(s.root, 'x')), { code: 'ENOENT' }, 'no shell ran the redirection');
  t.equal((await s.request('GET', `/v1/sessions/${res.json().id}/metadata`)).json().prompt, prompt, 'metadata keeps the prompt');
});

t.test('the session runs in its working directory', async (t) => {
  const s = await startServer(t);
  const sub = path.join(s.root, 'project', 'sub dir');
  await fs.mkdir(sub, { recursive: true });
  const session = await s.run('pwd > where.txt', { working_directory: sub });
  t.equal(session.working_directory, sub);
  await s.waitEnded(session.id);
  t.equal(await fs.readFile(path.join(sub, 'where.txt'), 'utf8'), `${sub}\n`);
});

t.test('the environment is filtered: only SESSIOND_CHILD_ENV names, never SESSIOND_* or a token', async (t) => {
  const s = await startServer(t, {
    env: {
      SECRET_THING: 'do-not-pass',
      CLAUDE_CONFIG_HINT: 'visible',
      LANG: 'C.UTF-8',
      SESSIOND_LOG_LEVEL: 'warn',
    },
  });
  const session = await s.run('env -0 > env.nul');
  await s.waitEnded(session.id);
  const entries = (await fs.readFile(path.join(s.root, 'env.nul'), 'utf8')).split('\0').filter(Boolean);
  const env = new Map(entries.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
  t.equal(env.get('CLAUDE_CONFIG_HINT'), 'visible', 'a CLAUDE_* variable passes');
  t.equal(env.get('LANG'), 'C.UTF-8', 'LANG passes');
  t.equal(env.get('PATH'), process.env.PATH, 'PATH passes');
  t.notOk(env.has('SECRET_THING'), 'a variable outside SESSIOND_CHILD_ENV does not');
  t.same([...env.keys()].filter((k) => k.startsWith('SESSIOND_')), [], 'no SESSIOND_* variable');
  t.notOk(entries.some((e) => Object.values(TEST_TOKENS).some((token) => e.includes(token))), 'no token anywhere');
});

t.test('SESSIOND_CHILD_ENV decides which names pass', async (t) => {
  const s = await startServer(t, {
    env: { SESSIOND_CHILD_ENV: 'PATH,MY_*,SESSIOND_*', MY_ONE: '1', MY_TWO: '2', HOME_AWAY: 'x', SESSIOND_LOG_LEVEL: 'warn' },
  });
  const session = await s.run('env -0 > env.nul');
  await s.waitEnded(session.id);
  const names = (await fs.readFile(path.join(s.root, 'env.nul'), 'utf8'))
    .split('\0')
    .filter(Boolean)
    .map((e) => e.slice(0, e.indexOf('=')));
  t.ok(names.includes('MY_ONE') && names.includes('MY_TWO'), 'a prefix pattern passes its names');
  t.notOk(names.includes('HOME'), 'HOME is not listed, so it does not pass');
  t.notOk(names.includes('HOME_AWAY'));
  t.same(names.filter((n) => n.startsWith('SESSIOND_')), [], 'SESSIOND_* never passes, even when listed');
});

t.test('stdin is /dev/null: a process reading it ends at once', async (t) => {
  const s = await startServer(t);
  const session = await s.run('readlink /proc/$$/fd/0; cat; echo "cat ended with $?"');
  t.match(await s.waitEnded(session.id), { status: 'exited', exit_code: 0 });
  t.equal((await s.request('GET', `/v1/sessions/${session.id}/logs/stdout`)).text, '/dev/null\ncat ended with 0\n');
});

t.test('a script file in the workspace runs with its arguments as given', async (t) => {
  const s = await startServer(t);
  await fs.writeFile(path.join(s.root, 'count.sh'), 'echo "$#"; for a in "$@"; do printf "[%s]\\n" "$a"; done > seen.txt\n');
  const session = await s.run('bash count.sh "$@"', { args: ['-c', 'bash count.sh "$@"', 'bash', '', '  spaced  ', '*', '-x'] });
  await s.waitEnded(session.id);
  t.equal(await readWhenWritten(path.join(s.root, 'seen.txt')), '[]\n[  spaced  ]\n[*]\n[-x]\n', 'empty, spaces, globs and dashes pass as they are');
});
