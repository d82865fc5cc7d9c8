// `sessiond start [options] -- <command> [args...]`: starts a session and prints its id (as
// `docker run -d` does). The options end at the command: what follows is the session's own
// command line, passed as it is (no shell).
import path from 'node:path';
import type { Session } from '../../../schemas/session.js';
import { flag, str, strs, type Command } from '../command.js';
import { parseDuration } from '../durations.js';
import { UsageError } from '../errors.js';
import { parseLabels } from '../labels.js';

export const start: Command = {
  name: 'start',
  summary: 'Start a session running a command, and print its id.',
  args: '[--] [<command> [args...]]',
  positionals: { min: 0, max: 0 },
  passThrough: true,
  options: [
    { name: 'name', type: 'string', value: 'NAME', description: 'the session’s name (default: the command’s name); its id is made from it' },
    { name: 'cwd', short: 'C', type: 'string', value: 'DIR', description: 'working directory, inside the service’s workspace roots (default: this directory)' },
    { name: 'label', short: 'l', type: 'string', multiple: true, value: 'KEY=VALUE', description: 'a label' },
    { name: 'queue', type: 'boolean', description: 'when the service is at SESSIOND_MAX_RUNNING, queue the session instead of failing' },
    { name: 'priority', type: 'string', value: 'N', description: 'queue priority, -100..100 (higher first)' },
    { name: 'max-runtime', type: 'string', value: 'DURATION', description: 'stop it (gracefully) this long after it started' },
    { name: 'idle-timeout', type: 'string', value: 'DURATION', description: 'stop it when it has written nothing for this long' },
    { name: 'prompt', type: 'string', value: 'TEXT', description: 'the prompt, for an agent command such as claude' },
    { name: 'json', type: 'boolean', description: 'print the whole session as JSON, not only its id' },
  ],
  details: `Without a command, the service's default command runs (SESSIOND_DEFAULT_COMMAND).
The options end at the command (or at --): sessiond start --name build -- make -j4
Durations: 90s, 10m, 2h, 1d, 500ms, or a number of seconds.
Exits 1 when the service refuses the start or the session fails to start (the reason is printed).`,
  async run(parsed, context) {
    const [command, ...args] = parsed.rest;
    const name = str(parsed, 'name') ?? (command ? path.basename(command) : undefined);
    if (!name) throw new UsageError('give the session a --name (or a command to name it after)', 'start');
    const priorityText = str(parsed, 'priority');
    const priority = priorityText === undefined ? undefined : Number(priorityText);
    if (priority !== undefined && (!Number.isInteger(priority) || priority < -100 || priority > 100)) {
      throw new UsageError(`--priority takes a whole number from -100 to 100, got "${priorityText}"`, 'start');
    }
    const maxRuntime = str(parsed, 'max-runtime');
    const idle = str(parsed, 'idle-timeout');
    const labels = parseLabels(strs(parsed, 'label'));
    const body = {
      name,
      working_directory: path.resolve(str(parsed, 'cwd') ?? '.'),
      ...(command !== undefined ? { command, args } : {}),
      ...(str(parsed, 'prompt') !== undefined ? { prompt: str(parsed, 'prompt') } : {}),
      ...(Object.keys(labels).length > 0 ? { labels } : {}),
      ...(flag(parsed, 'queue') ? { queue: true } : {}),
      ...(priority !== undefined ? { priority } : {}),
      ...(maxRuntime !== undefined ? { max_runtime_ms: parseDuration(maxRuntime, '--max-runtime') } : {}),
      ...(idle !== undefined ? { idle_timeout_ms: parseDuration(idle, '--idle-timeout') } : {}),
    };
    const api = await context.api();
    const { status, body: session } = await api.json<Session>('POST', '/v1/sessions', { body });
    context.out.write(flag(parsed, 'json') ? `${JSON.stringify(session, null, 2)}\n` : `${session.id}\n`);
    if (status === 202) context.err.write(`sessiond: ${session.id} is queued: it starts when a place frees\n`);
    if (session.status === 'failed') {
      context.err.write(`sessiond: ${session.id} failed to start: ${session.status_reason ?? 'no reason given'}\n`);
      return 1;
    }
    return 0;
  },
};
