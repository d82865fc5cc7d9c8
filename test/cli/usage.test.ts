// The command line itself (issue 14, point 3): --help on every command, the version, and clear
// messages with non-zero exits for a wrong command line, a bad setting or a service that is not
// there. No service is needed, except one that is not listening.
import fs from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { freePort, runCli } from './cli-process.js';

const COMMANDS = ['serve', 'ls', 'start', 'get', 'logs', 'stop', 'wait', 'rm', 'events'];

t.test('--help lists every command; each command has its own --help', async (t) => {
  const overview = await runCli(t, ['--help'], {});
  t.equal(overview.code, 0);
  for (const name of COMMANDS) t.match(overview.stdout, new RegExp(`^  ${name} `, 'm'), `the overview lists ${name}`);
  t.match(overview.stdout, /SESSIOND_URL/, 'and the settings');
  for (const name of COMMANDS) {
    const help = await runCli(t, [name, '--help'], {});
    t.equal(help.code, 0, `${name} --help exits 0`);
    t.match(help.stdout, new RegExp(`^Usage: sessiond ${name}`), `${name} --help shows its usage`);
    t.match(help.stdout, /-h, --help/, `${name} --help lists its options`);
    t.equal(help.stderr, '', `${name} --help says nothing on stderr`);
  }
  const viaHelp = await runCli(t, ['help', 'logs'], {});
  t.match(viaHelp.stdout, /^Usage: sessiond logs \[options\] <id>/, 'help <command> too');
  t.match(viaHelp.stdout, /-f, --follow/);
});

t.test('--version is the package’s', async (t) => {
  const pkg = JSON.parse(await fs.readFile(path.join(process.cwd(), 'package.json'), 'utf8'));
  const run = await runCli(t, ['--version'], {});
  t.equal(run.code, 0);
  t.equal(run.stdout, `sessiond ${pkg.version}\n`);
});

t.test('a wrong command line: a clear message, exit 2', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [[], /Usage: sessiond <command>/],
    [['launch'], /unknown command "launch"/],
    [['ls', '--colour'], /Unknown option '--colour'/],
    [['get'], /missing <id>/],
    [['get', 'a', 'b'], /too many arguments: b/],
    [['start', '--name'], /argument missing/],
    [['start', '--name', 'x', '--max-runtime', 'soon', '--', 'true'], /--max-runtime takes a duration/],
    [['start', '--label', 'nokey', '--', 'true'], /--label takes key=value/],
    [['logs', 'x', '--stderr', '--both'], /--stderr and --both cannot go together/],
    [['ls', '--limit', '0'], /--limit takes a whole number/],
  ];
  for (const [args, message] of cases) {
    const run = await runCli(t, args, { SESSIOND_URL: 'http://127.0.0.1:9' });
    t.equal(run.code, 2, `sessiond ${args.join(' ')}: exit 2`);
    t.match(run.stderr, message, `sessiond ${args.join(' ')}: says what is wrong`);
    t.equal(run.stdout, '', 'nothing on stdout');
  }
});

t.test('a bad SESSIOND_URL, or a service that is not there: a clear message, non-zero', async (t) => {
  const bad = await runCli(t, ['ls'], { SESSIOND_URL: 'ftp://example' });
  t.equal(bad.code, 2);
  t.match(bad.stderr, /SESSIOND_URL must be http or https/);
  const port = await freePort();
  const down = await runCli(t, ['ls'], { SESSIOND_URL: `http://127.0.0.1:${port}`, SESSIOND_TOKEN: 'whatever-token-0123456789' });
  t.equal(down.code, 1, 'exit 1');
  t.match(down.stderr, new RegExp(`^sessiond: cannot reach sessiond at http://127\\.0\\.0\\.1:${port}: connection refused`), 'it says where it looked and why it failed');
  t.notMatch(down.stderr, /at .*\.js:\d+/, 'no stack trace');
});
