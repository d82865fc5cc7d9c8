// `sessiond stop <id>...`: SIGTERM to each session's process group, SIGKILL after the grace; the
// answer comes once it has ended. A session that had already ended is left as it is.
import type { Session } from '../../../schemas/session.js';
import { str, type Command } from '../command.js';
import { parseDuration } from '../durations.js';
import { CliError } from '../errors.js';
import { sessionPath } from '../sessions.js';

export const stop: Command = {
  name: 'stop',
  summary: 'Stop sessions (SIGTERM, then SIGKILL after the grace period).',
  args: '<id> [id...]',
  positionals: { min: 1, max: Number.POSITIVE_INFINITY },
  options: [{ name: 'grace', short: 't', type: 'string', value: 'DURATION', description: 'time between SIGTERM and SIGKILL (default: the service’s SESSIOND_STOP_GRACE_MS)' }],
  async run(parsed, context) {
    const grace = str(parsed, 'grace');
    const body = grace === undefined ? {} : { grace_ms: parseDuration(grace, '--grace') };
    const api = await context.api();
    let failed = 0;
    for (const id of parsed.positionals) {
      try {
        const { body: session } = await api.json<Session>('POST', `${sessionPath(id)}/stop`, { body });
        context.out.write(`${session.id}\n`);
      } catch (err) {
        if (!(err instanceof CliError) || parsed.positionals.length === 1) throw err;
        context.err.write(`sessiond: ${id}: ${err.message}\n`);
        failed += 1;
      }
    }
    return failed > 0 ? 1 : 0;
  },
};
