// The real Claude Code CLI (the @anthropic-ai/claude-code dev dependency), offline and logged out:
// it still writes a real stream-json transcript (system/init with its session id and model, an
// assistant message carrying the authentication error, a result with is_error), which sessiond
// must parse as it does any other. The prompt after `--` is what lets a prompt that starts with
// dashes through (without it the CLI refuses it as an unknown option); continue and fork resume
// its own saved session. Skipped, saying why, only when the binary is absent; under CI it must be there.
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import t, { type Test } from 'tap';
import { startServer, type Json, type Server } from '../e2e/helper.js';
import { tempDir } from '../helper.js';

/** The native binary the package installs for this platform, or null. */
async function findClaude(): Promise<string | null> {
  const require = createRequire(import.meta.url);
  const platform = `${process.platform}-${process.arch}`;
  const candidates: string[] = [];
  for (const name of [`@anthropic-ai/claude-code-${platform}`, `@anthropic-ai/claude-code-${platform}-musl`]) {
    try {
      candidates.push(path.join(path.dirname(require.resolve(`${name}/package.json`)), 'claude'));
    } catch {
      // Not installed for this platform: the next candidate.
    }
  }
  try {
    // The wrapper package's bin, once its postinstall has put the binary there (a stub is small).
    candidates.push(path.join(path.dirname(require.resolve('@anthropic-ai/claude-code/package.json')), 'bin', 'claude.exe'));
  } catch {
    // The package itself is missing.
  }
  for (const file of candidates) {
    const stat = await fs.stat(file).catch(() => null);
    if (stat?.isFile() && stat.size > 1024 * 1024 && (stat.mode & 0o111) !== 0) return file;
  }
  return null;
}

const binary = await findClaude();
if (!binary) {
  const reason = 'the Claude Code binary is not installed (npm ci installs @anthropic-ai/claude-code and its platform package)';
  if (process.env.CI) t.fail(reason);
  else t.plan(0, reason);
}

async function server(t: Test): Promise<Server> {
  const bin = await tempDir(t, 'sessiond-real-claude-');
  await fs.symlink(binary as string, path.join(bin, 'claude'));
  // Its own HOME: claude keeps its sessions (and whatever else) there, not in the tester's.
  const home = await tempDir(t, 'sessiond-claude-home-');
  return startServer(t, { env: { SESSIOND_ALLOWED_COMMANDS: 'claude', PATH: `${bin}:${process.env.PATH ?? ''}`, HOME: home } });
}

const PROMPT = '--resume is a word I use';

async function messages(t: Test, s: Server, id: string): Promise<Json[]> {
  const res = await s.request('GET', `/v1/sessions/${id}/agent/messages?limit=500`);
  t.equal(res.status, 200);
  return res.json().items as Json[];
}

if (binary) {
  t.test('the real CLI offline: its transcript parsed, the prompt with dashes taken as the prompt', async (t) => {
    const s = await server(t);
    const res = await s.request('POST', '/v1/sessions', {
      body: { name: 'real claude', working_directory: s.root, command: 'claude', prompt: PROMPT, agent: { kind: 'claude' } },
    });
    t.equal(res.status, 201);
    t.same(res.json().args.slice(-2), ['--', PROMPT]);
    const ended = await s.waitEnded(res.json().id);
    t.equal(ended.status, 'exited');

    const items = await messages(t, s, ended.id);
    const raw = (await s.request('GET', `/v1/sessions/${ended.id}/logs/stdout`)).bytes;
    t.same(items.map((m) => [m.type, m.subtype]), [['system', 'init'], ['assistant', null], ['result', 'success']], 'init, the assistant’s error, the result');
    let next = 0;
    for (const m of items) {
      t.equal(m.offset, next, `message ${m.n} starts where the previous line ended`);
      t.same(m.message, JSON.parse(raw.subarray(m.offset, m.offset + m.length).toString('utf8')), `message ${m.n} is its line`);
      next = m.offset + m.length + 1;
    }
    t.equal(next, raw.length, 'every byte of stdout is in a message');

    const [initMessage, assistant, result] = items.map((m) => m.message as Json);
    t.match(initMessage?.session_id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'init names a uuid session');
    t.type(initMessage?.model, 'string');
    t.equal(assistant?.error, 'authentication_failed', 'the assistant message carries the authentication error');
    t.match(result, { is_error: true, result: /Not logged in/ });
    t.match(ended.agent, {
      kind: 'claude',
      session_id: initMessage?.session_id,
      model: initMessage?.model,
      is_error: true,
      result: /Not logged in · Please run \/login/,
      num_turns: result?.num_turns,
      message_count: 3,
    }, 'the summary, from the real shapes');

    // The same prompt as a bare argument, without `--`: the CLI takes it for an option.
    const bare = await s.request('POST', '/v1/sessions', {
      body: { name: 'bare', working_directory: s.root, command: 'claude', args: ['--print', '--verbose', '--output-format', 'stream-json', PROMPT] },
    });
    const bareEnded = await s.waitEnded(bare.json().id);
    t.not(bareEnded.exit_code, 0, 'without --, claude refuses it');
    t.match((await s.request('GET', `/v1/sessions/${bareEnded.id}/logs/stderr`)).text, /unknown option/);
  });

  t.test('the real CLI: continue resumes its session, fork makes a new one', async (t) => {
    const s = await server(t);
    const parent = await s.waitEnded(
      (
        await s.request('POST', '/v1/sessions', {
          body: { name: 'parent', working_directory: s.root, command: 'claude', prompt: 'hello', agent: { kind: 'claude' } },
        })
      ).json().id,
    );
    const sid = parent.agent.session_id as string;
    t.match(sid, /^[0-9a-f-]{36}$/);

    const child = await s.waitEnded((await s.request('POST', `/v1/sessions/${parent.id}/continue`, { body: { prompt: '-again' } })).json().id);
    t.match(child, { parent_id: parent.id, agent: { session_id: sid } }, 'claude --resume went on with the same session');
    t.same(child.args.slice(-4), ['--resume', sid, '--', '-again']);

    const forked = await s.waitEnded((await s.request('POST', `/v1/sessions/${parent.id}/continue`, { body: { prompt: 'again', fork: true } })).json().id);
    t.equal(forked.parent_id, parent.id);
    t.match(forked.agent.session_id, /^[0-9a-f-]{36}$/);
    t.not(forked.agent.session_id, sid, '--fork-session gave it a session of its own');
  });

  t.test('the real CLI with input: the prompt it reads from stdin is answered, and so is each POST .../input', async (t) => {
    const s = await server(t);
    const res = await s.request('POST', '/v1/sessions', {
      body: { name: 'real chat', working_directory: s.root, command: 'claude', prompt: PROMPT, agent: { kind: 'claude', input: true } },
    });
    t.equal(res.status, 201, res.text);
    const id = res.json().id as string;
    t.ok(res.json().args.includes('--input-format'), 'claude reads stream-json from stdin');
    const results = async () => (await messages(t, s, id)).filter((m) => m.type === 'result');
    // With --input-format stream-json the real CLI ignores a prompt argument: the first message on
    // stdin (put there by the keeper) is what it answers.
    for (let i = 0; (await results()).length < 1; i++) {
      if (i > 300) throw new Error('the real CLI never answered its first message');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    t.equal((await s.request('POST', `/v1/sessions/${id}/input`, { body: { text: 'and a second turn' } })).status, 200);
    for (let i = 0; (await results()).length < 2; i++) {
      if (i > 300) throw new Error('the real CLI never answered the input');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    t.match((await results()).map((m) => (m.message as Json).result), [/Not logged in/, /Not logged in/], 'a turn for the prompt, a turn for the input, in one process');
    t.equal((await s.request('GET', `/v1/sessions/${id}`)).json().status, 'running', 'it waits for the next message');
    t.match((await s.request('POST', `/v1/sessions/${id}/stop`)).json(), { status: 'stopped' });
  });
}
