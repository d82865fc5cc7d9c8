// `sessiond logs --since` against a real service (issue 14, point 3): only the lines written at or
// after the time given, as an RFC 3339 time or as a duration ago, on one stream or both, and a
// time after every line prints nothing (and ends). The session writes its second batch of lines
// only when the test tells it to (a file appears), so "before" and "after" are ordered by events.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { eventually, TEST_TOKENS } from '../helper.js';
import { deploy } from '../reliability/server-process.js';
import { runCli } from './cli-process.js';

t.test('logs --since prints only what was written since that time', async (t) => {
  const d = await deploy(t);
  await d.start();
  const env = { SESSIOND_URL: d.server.url, SESSIOND_TOKEN: TEST_TOKENS.write, NO_COLOR: '1' };
  const cli = (...args: string[]) => runCli(t, args, env);

  const script = 'echo early 1; echo early 2; echo early err >&2; while [ ! -e go ]; do sleep 0.05; done; echo late 1; echo late err >&2; echo late 2; exec sleep 60';
  const started = await cli('start', '--name', 'since', '--cwd', d.root, '--', 'bash', '-c', script);
  t.equal(started.code, 0, started.stderr);
  const id = started.stdout.trim();

  // The time the service recorded for the last early line; "since" is the next millisecond.
  const early = await eventually(async () => {
    const out = (await cli('logs', id, '--timestamps')).stdout;
    return out.split('\n').length === 3 ? out : undefined;
  }, 30_000);
  const stamps = [...early.matchAll(/^(\S+Z) /gm)].map((m) => Date.parse(m[1] as string));
  t.equal(stamps.length, 2, 'two early lines on stdout, each with its time');
  const errStamp = await eventually(async () => {
    const out = (await cli('logs', id, '--stderr', '--timestamps')).stderr;
    return /^\S+Z early err\n$/.test(out) ? Date.parse(out.split(' ')[0] as string) : undefined;
  }, 30_000);
  const lastEarly = Math.max(...stamps, errStamp);
  // The late lines must be written in a later millisecond than `since`: wait for the clock to pass it.
  const since = new Date(lastEarly + 1);
  await eventually(() => (Date.now() > since.getTime() ? true : undefined));
  await writeFile(path.join(d.root, 'go'), '');
  await eventually(async () => ((await cli('logs', id)).stdout.endsWith('late 2\n') ? true : undefined), 30_000);

  t.equal((await cli('logs', id)).stdout, 'early 1\nearly 2\nlate 1\nlate 2\n', 'without --since: the whole log');

  const sinceText = since.toISOString();
  const out = await cli('logs', id, '--since', sinceText);
  t.equal(out.code, 0, `logs --since ${sinceText} exits 0 ${out.stderr}`);
  t.equal(out.stdout, 'late 1\nlate 2\n', 'only the stdout lines written since then');
  t.equal(out.stderr, '', 'and nothing of stderr');

  const both = await cli('logs', id, '--both', '--since', sinceText);
  t.equal(both.code, 0);
  t.equal(both.stdout, 'late 1\nlate 2\n', '--both --since: stdout since then');
  t.equal(both.stderr, 'late err\n', 'and stderr since then');

  const errOnly = await cli('logs', id, '--stderr', '--since', sinceText);
  t.equal(errOnly.stderr, 'late err\n', '--stderr --since');

  const stamped = await cli('logs', id, '--since', sinceText, '--timestamps');
  const times = [...stamped.stdout.matchAll(/^(\S+Z) late \d$/gm)].map((m) => Date.parse(m[1] as string));
  t.equal(times.length, 2, '--since --timestamps: the two late lines with their times');
  t.ok(times.every((time) => time >= since.getTime()), 'each written at or after --since');

  const ago = await cli('logs', id, '--since', '1h');
  t.equal(ago.stdout, 'early 1\nearly 2\nlate 1\nlate 2\n', '--since 1h (a duration ago) covers the whole log here');

  // A time after every line, while the session lives on silently: nothing to print, so the
  // command ends at once (the stream's first status event says where it starts), with one stream
  // or both.
  const later = new Date(Date.now() + 3_600_000).toISOString();
  for (const extra of [[], ['--stderr'], ['--both']]) {
    const future = await cli('logs', id, '--since', later, ...extra);
    t.equal(future.code, 0, `a time after every line${extra.length ? ` (${extra[0]})` : ''}: the command ends by itself, exit 0`);
    t.equal(future.stdout + future.stderr, '', 'and prints nothing');
  }

  const bad = await cli('logs', id, '--since', 'yesterday-ish');
  t.not(bad.code, 0, 'a --since that is not a time fails');
  t.match(bad.stderr, /since/, 'and says which option');

  await cli('stop', id);
});
