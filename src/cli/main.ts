#!/usr/bin/env node
// `sessiond`: the operator's command for the service (serve, ls, start, get, logs, stop, wait, rm,
// events). Reads SESSIOND_URL and SESSIOND_TOKEN (or a local service's token file); prints errors
// as one line and exits non-zero: 1 when the service refused or could not be reached, 2 for a
// wrong command line, the session's own code for wait.
import { ConfigError, loadCliConfig } from '../config.js';
import { PACKAGE } from '../package-info.js';
import { createApi, type Api } from './api.js';
import { helpText, parseCommandLine, type Command, type Context } from './command.js';
import { events } from './commands/events.js';
import { get } from './commands/get.js';
import { logs } from './commands/logs.js';
import { ls } from './commands/ls.js';
import { rm } from './commands/rm.js';
import { serve } from './commands/serve.js';
import { start } from './commands/start.js';
import { stop } from './commands/stop.js';
import { wait } from './commands/wait.js';
import { CliError, EXIT, UsageError } from './errors.js';
import { colors } from './format.js';
import { resolveConnection } from './settings.js';

const COMMANDS: Command[] = [serve, ls, start, get, logs, stop, wait, rm, events];

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 3;
  return [
    'Usage: sessiond <command> [options]',
    '',
    'Start, watch and stop long-running command-line sessions on a sessiond service.',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    'Settings (environment):',
    '  SESSIOND_URL        the service (default http://127.0.0.1:7070, or SESSIOND_HOST and SESSIOND_PORT)',
    '  SESSIOND_TOKEN      the bearer token; for a service on this machine, the token file in',
    '  SESSIOND_DATA_DIR   its data directory (default ./data) is used when SESSIOND_TOKEN is unset',
    '  NO_COLOR            no colours; FORCE_COLOR=1 colours even off a terminal',
    '',
    'sessiond <command> --help tells more. sessiond --version prints the version.',
    '',
  ].join('\n');
}

/** Writes, then resolves once the bytes have left (a pipe is written asynchronously). */
const flush = (stream: NodeJS.WriteStream) => new Promise<void>((resolve) => stream.write('', () => resolve()));

async function main(argv: string[]): Promise<number | 'running'> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    process.stderr.write(overview());
    return EXIT.usage;
  }
  if (name === '--help' || name === '-h' || (name === 'help' && rest.length === 0)) {
    process.stdout.write(overview());
    return EXIT.ok;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`sessiond ${PACKAGE.version}\n`);
    return EXIT.ok;
  }
  const wanted = name === 'help' ? rest[0] : name;
  const command = COMMANDS.find((c) => c.name === wanted);
  if (!command) throw new UsageError(`unknown command "${wanted}": sessiond --help lists the commands`);
  if (name === 'help') {
    process.stdout.write(helpText(command));
    return EXIT.ok;
  }
  const parsed = parseCommandLine(command, rest);
  if (parsed.values.help === true) {
    process.stdout.write(helpText(command));
    return EXIT.ok;
  }
  const config = loadCliConfig();
  let api: Promise<Api> | undefined;
  const context: Context = {
    config,
    api: () => (api ??= resolveConnection(config).then((connection) => createApi(connection, config.dataDir))),
    out: process.stdout,
    err: process.stderr,
    colors: { out: colors(config.color, process.stdout.isTTY), err: colors(config.color, process.stderr.isTTY) },
    now: () => Date.now(),
  };
  return command.run(parsed, context);
}

try {
  const outcome = await main(process.argv.slice(2));
  if (outcome !== 'running') {
    await Promise.all([flush(process.stdout), flush(process.stderr)]);
    // Exits now: a kept-alive connection to the service must not hold the command for seconds.
    process.exit(outcome);
  }
} catch (err) {
  const known = err instanceof CliError || err instanceof ConfigError;
  const message = known ? err.message : `unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
  process.stderr.write(`sessiond: ${message}\n`);
  if (err instanceof UsageError) process.stderr.write(`${err.command ? `sessiond ${err.command} --help` : 'sessiond --help'} tells how to use it.\n`);
  await flush(process.stderr);
  process.exit(err instanceof CliError ? err.exitCode : known ? EXIT.usage : EXIT.failed);
}
