// `sessiond rm <id>...`: deletes sessions (record and logs). A live one is refused unless --force,
// which stops it first.
import { flag, type Command } from '../command.js';
import { CliError } from '../errors.js';
import { sessionPath } from '../sessions.js';

export const rm: Command = {
  name: 'rm',
  summary: 'Delete sessions: their records and logs.',
  args: '<id> [id...]',
  positionals: { min: 1, max: Number.POSITIVE_INFINITY },
  options: [{ name: 'force', short: 'f', type: 'boolean', description: 'stop a live session first, then delete it' }],
  async run(parsed, context) {
    const api = await context.api();
    let failed = 0;
    for (const id of parsed.positionals) {
      try {
        await api.json('DELETE', sessionPath(id), { query: { force: flag(parsed, 'force') || undefined } });
        context.out.write(`${id}\n`);
      } catch (err) {
        if (!(err instanceof CliError) || parsed.positionals.length === 1) throw err;
        context.err.write(`sessiond: ${id}: ${err.message}\n`);
        failed += 1;
      }
    }
    return failed > 0 ? 1 : 0;
  },
};
